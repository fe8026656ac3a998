/**
 * The ticket sale of `examples/ticket_sale.ts` with its 10 buyers as
 * separate OS processes sharing a named Mutex: exactly N tickets are sold,
 * on both process memories.
 */
import assert from "node:assert/strict";
import { Event } from "../primitives/event.ts";
import { Mutex } from "../primitives/mutex.ts";
import { SharedValue } from "../primitives/shared_value.ts";
import { openShared } from "../shm/named.ts";
import { mmapSupported } from "../shm/_libc.ts";
import { type ProcessHandle, startProcess } from "../workers/process_handle.ts";
import { createDatabase, readDatabase } from "../examples/_tickets.ts";
import { child, cleanUp, uniqueName } from "./_processes/_util.ts";

const BACKENDS = mmapSupported() ? (["mmap", "file"] as const) : (["file"] as const);
const BUYERS = 10;
const WANTED = 5;
const TICKETS = 20;

for (const backend of BACKENDS) {
  Deno.test({
    name:
      `ticket sale with ${BUYERS} buyer processes sells exactly ${TICKETS} tickets (${backend})`,
    timeout: 60_000,
    async fn() {
      const names = [
        uniqueName("tickets-lock"),
        uniqueName("tickets-open"),
        uniqueName("tickets-out"),
      ];
      const lock = openShared(Mutex, names[0], { backend });
      const open = openShared(Event, names[1], { backend });
      const handedOut = openShared(
        SharedValue,
        names[2],
        { backend },
        (allocate) => new SharedValue("int32", 0, { lock: false, allocate }),
      );
      const path = await createDatabase(TICKETS);
      const dir = path.slice(0, path.lastIndexOf("/"));
      const buyers: ProcessHandle[] = [];
      try {
        for (let id = 0; id < BUYERS; id++) {
          buyers.push(
            startProcess(child("ticket_buyer_child.ts"), {
              args: [id, lock, path, WANTED, open, handedOut],
              permissions: {
                read: ["/tmp", dir],
                write: ["/tmp", dir],
                ffi: backend === "mmap",
              },
            }),
          );
        }
        open.set(); // the sale opens for everyone at once
        for (const buyer of buyers) assert.equal(await buyer.exited({ timeout: 50_000 }), 0);
        const db = readDatabase(path);
        assert.equal(handedOut.load(), TICKETS);
        assert.equal(db.remaining, 0);
        assert.equal(db.sold.length, TICKETS);
      } finally {
        await cleanUp(buyers, [lock, open, handedOut], names);
        await Deno.remove(path).catch(() => {});
      }
    },
  });
}
