/**
 * Lock granularity: the same ticket sale (N tickets, 10 buyers), where each
 * purchase is followed by a slow "payment" step (5 ms). Coarse: one lock
 * around the whole task (purchase and payment). Fine: the lock only around
 * the purchase (the read-modify-write of the database); payments run in
 * parallel. Both sell exactly N tickets; the fine-grained one takes far less
 * time, because only the part that touches shared state is serialised.
 *
 * Run: `deno task example:granularity` (`deno run -R -W examples/lock_granularity.ts`).
 * The last line printed is a JSON summary.
 *
 * @module
 */

import { Event } from "../primitives/event.ts";
import { Mutex } from "../primitives/mutex.ts";
import { isMainThread, WorkerProcess } from "../workers/worker_process.ts";
import { createDatabase, purchase, readDatabase, sleep } from "./_tickets.ts";

const BUYERS = 10;
const WANTED = 5;
const PAYMENT_MS = 5;

/** One buyer; `coarse` holds the lock across purchase and payment. */
export async function buyer(
  id: number,
  lock: Mutex,
  path: string,
  coarse: boolean,
  open: Event,
  handedOut: Int32Array,
): Promise<void> {
  await open.waitAsync();
  for (let i = 0; i < WANTED; i++) {
    let bought: boolean;
    if (coarse) {
      bought = await lock.withLockAsync(async () => {
        const ok = await purchase(path, id, 0);
        if (ok) await sleep(PAYMENT_MS); // payment inside the lock
        return ok;
      });
    } else {
      bought = await lock.withLockAsync(() => purchase(path, id, 0));
      if (bought) await sleep(PAYMENT_MS); // payment outside the lock
    }
    if (!bought) return;
    Atomics.add(handedOut, 0, 1);
  }
}

async function sale(tickets: number, coarse: boolean) {
  const path = await createDatabase(tickets);
  const lock = new Mutex();
  const open = new Event();
  const handedOut = new Int32Array(new SharedArrayBuffer(4));
  const buyers = Array.from({ length: BUYERS }, (_, id) =>
    new WorkerProcess({
      module: import.meta.url,
      fn: "buyer",
      args: [id, lock, path, coarse, open, handedOut],
    }));
  for (const b of buyers) b.start();
  const started = performance.now();
  open.set();
  for (const b of buyers) await b.joinAsync();
  const ms = Math.round(performance.now() - started);
  for (const b of buyers) if (b.exitCode !== 0) throw b.error ?? new Error(`${b.name} failed`);
  const db = readDatabase(path);
  await Deno.remove(path);
  return {
    handedOut: Atomics.load(handedOut, 0),
    remaining: db.remaining,
    recorded: db.sold.length,
    ms,
  };
}

if (isMainThread()) {
  const tickets = Number(Deno.args[0] ?? 30);
  const coarse = await sale(tickets, true);
  console.log(`coarse lock (whole task): sold ${coarse.handedOut}/${tickets} in ${coarse.ms} ms`);
  const fine = await sale(tickets, false);
  console.log(`fine lock (purchase only): sold ${fine.handedOut}/${tickets} in ${fine.ms} ms`);
  console.log(JSON.stringify({ tickets, coarse, fine }));
}
