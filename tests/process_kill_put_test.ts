/**
 * A producer process SIGKILLed while putting (usually inside a `put`):
 * no torn or half-written message is ever delivered, and every message
 * whose `put` returned is delivered, in order.
 *
 * What the kill can leave behind depends on the memory: on the file-backed
 * memory, a `Queue` that runs each step as one batch (`runBatch`) is
 * all-or-nothing per `put` (journalled write-back), so no slot stays
 * claimed-but-unpublished; on the mapped memory (as on a
 * SharedArrayBuffer) a producer killed between its claim and its publish
 * leaves a claimed slot that names it (`Queue.stuckProducer()`); consumers
 * see the claimer dead (process liveness) and skip the slot, so they drain
 * everything that was put (a producer names itself in a slot before it
 * claims it, so a claimed slot always names its claimer). With a lease on the
 * file-backed memory, most puts are only in the lease log when the kill
 * comes (written in place at the lease's end): the next locker replays it.
 */
import assert from "node:assert/strict";
import { Queue } from "../primitives/queue.ts";
import { QueueEmptyError } from "../primitives/errors.ts";
import { SharedValue } from "../primitives/shared_value.ts";
import type { MemoryAllocator } from "../primitives/_header.ts";
import { openShared } from "../shm/named.ts";
import { mmapSupported } from "../shm/_libc.ts";
import { type ProcessHandle, startProcess } from "../workers/process_handle.ts";
import { checkMessage, MESSAGE_BYTES } from "./_processes/put_messages.ts";
import { child, cleanUp, uniqueName } from "./_processes/_util.ts";

const BACKENDS = mmapSupported() ? (["mmap", "file"] as const) : (["file"] as const);
const ROUNDS = 3;
/** The mid-put cases: each memory, and the file-backed one with a lease (its log). */
const KILL_CASES: { backend: "mmap" | "file"; leaseMs?: number }[] = [
  ...BACKENDS.map((backend) => ({ backend })),
  { backend: "file", leaseMs: 5 },
];

for (const { backend, leaseMs } of KILL_CASES) {
  Deno.test({
    name: `SIGKILL of a producer mid-put: nothing torn, nothing returned lost (${backend}${
      leaseMs ? `, lease ${leaseMs} ms` : ""
    })`,
    timeout: 60_000,
    async fn() {
      for (let round = 0; round < ROUNDS; round++) {
        const names = [uniqueName("killq"), uniqueName("killacked")];
        const queue = openShared(
          Queue<Uint8Array>,
          names[0],
          { backend, create: "exclusive", leaseMs },
          (allocate: MemoryAllocator) =>
            new Queue<Uint8Array>(256, {
              codec: "bytes",
              maxMessageBytes: MESSAGE_BYTES,
              allocate,
            }),
        );
        const acked = openShared(
          SharedValue,
          names[1],
          { backend, create: "exclusive" },
          (allocate) => new SharedValue("int32", 0, { lock: false, allocate }),
        );
        const processes: ProcessHandle[] = [];
        try {
          processes.push(
            startProcess(child("put_until_killed_child.ts"), { args: [queue, acked] }),
          );
          const killAt = 300 + Math.floor(Math.random() * 2_000);
          let received = 0;
          while (received < killAt) {
            checkMessage(await queue.getAsync({ timeout: 20_000 }), received);
            received++;
          }
          processes[0].kill();
          await processes[0].join();
          // The producer is dead: the queue no longer changes under us.
          // A slot it claimed and did not publish names it, and is
          // recovered (skipped) by getNowait once the claimer is seen dead.
          while (queue.qsize() > 0) {
            assert.notEqual(queue.stuckProducer(), -1, "a claimed slot names its claimer");
            let message: Uint8Array;
            try {
              message = queue.getNowait();
            } catch (err) {
              if (err instanceof QueueEmptyError) continue; // the recovered slot was the last
              throw err;
            }
            checkMessage(message, received);
            received++;
          }
          const returned = acked.load();
          // Every put that returned was delivered (the last one may have
          // returned without being recorded: at most one more).
          assert.ok(
            received === returned || received === returned + 1,
            `received ${received}, puts returned ${returned}`,
          );
        } finally {
          await cleanUp(processes, [queue, acked], names);
        }
      }
    },
  });
}

for (const backend of BACKENDS) {
  Deno.test({
    name:
      `SIGKILL of a producer between claim and publish: consumers skip its slot, get the rest (${backend})`,
    timeout: 30_000,
    async fn() {
      const names = [uniqueName("claimq"), uniqueName("claimready")];
      const queue = openShared(
        Queue<number>,
        names[0],
        { backend, create: "exclusive" },
        (allocate: MemoryAllocator) => new Queue<number>(8, { codec: "number", allocate }),
      );
      const ready = openShared(
        SharedValue,
        names[1],
        { backend, create: "exclusive" },
        (allocate) => new SharedValue("int32", 0, { lock: false, allocate }),
      );
      const processes: ProcessHandle[] = [];
      try {
        queue.put(0);
        processes.push(startProcess(child("claim_and_hang_child.ts"), { args: [queue, ready] }));
        for (let i = 0; i < 2_000 && ready.load() === 0; i++) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        assert.equal(ready.load(), 1, "the child claimed a slot");
        queue.put(2);
        queue.put(3);
        assert.equal(queue.get(), 0);
        assert.ok(queue.stuckProducer() > 0, "the head slot names its live claimer");
        processes[0].kill();
        await processes[0].join();
        assert.equal(queue.get({ timeout: 10_000 }), 2);
        assert.equal(queue.get({ timeout: 10_000 }), 3);
        assert.throws(() => queue.getNowait(), QueueEmptyError);
        for (let i = 0; i < 20; i++) {
          queue.put(i);
          assert.equal(queue.get(), i);
        }
      } finally {
        await cleanUp(processes, [queue, ready], names);
      }
    },
  });
}
