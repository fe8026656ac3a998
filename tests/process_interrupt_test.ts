/**
 * A worker started with WorkerProcess and blocked in a wait on a process
 * memory (mapped or file-backed) stops cooperatively on terminate(), like
 * one blocked on a SharedArrayBuffer: the waits are sliced and check the
 * worker's interrupt.
 */
import assert from "node:assert/strict";
import { Event } from "../primitives/event.ts";
import { Mutex } from "../primitives/mutex.ts";
import { closeShared, openShared, unlinkShared } from "../shm/named.ts";
import { mmapSupported } from "../shm/_libc.ts";
import { TERMINATED_EXIT_CODE, WorkerProcess } from "../workers/worker_process.ts";
import { uniqueName } from "./_processes/_util.ts";

const BACKENDS = mmapSupported() ? (["mmap", "file"] as const) : (["file"] as const);
const TASKS = new URL("./_processes/interrupt_tasks.ts", import.meta.url);

for (const backend of BACKENDS) {
  Deno.test({
    name: `terminate() stops a worker blocked in a sync and an async wait on ${backend} memory`,
    timeout: 30_000,
    async fn() {
      const names = [uniqueName("interrupt-mutex"), uniqueName("interrupt-event")];
      const mutex = openShared(Mutex, names[0], { backend });
      const event = openShared(Event, names[1], { backend });
      mutex.lock();
      try {
        for (const fn of ["lockForever", "waitAsyncForever"]) {
          const out = new Int32Array(new SharedArrayBuffer(8));
          const worker = new WorkerProcess({
            module: TASKS,
            fn,
            args: [fn === "lockForever" ? mutex : event, out],
          });
          worker.start();
          // Until the task is about to block (worker start-up can be slow on a busy machine).
          for (let i = 0; i < 3_000 && Atomics.load(out, 1) === 0; i++) {
            await new Promise((resolve) => setTimeout(resolve, 10));
          }
          assert.equal(Atomics.load(out, 1), 1, `${fn} started`);
          assert.equal(await worker.joinAsync({ timeout: 100 }), false, `${fn} blocks`);
          worker.terminate();
          // A sync join blocks this event loop, so the forced stop (a timer)
          // cannot run: returning true proves the worker stopped by itself.
          assert.equal(worker.join({ timeout: 5_000 }), true, `${fn} stops cooperatively`);
          assert.equal(worker.exitCode, TERMINATED_EXIT_CODE);
          assert.equal(out[0], 0, "the wait threw instead of returning");
          await worker.joinAsync();
        }
      } finally {
        mutex.unlock();
        closeShared(mutex);
        closeShared(event);
        for (const name of names) unlinkShared(name);
      }
    },
  });
}
