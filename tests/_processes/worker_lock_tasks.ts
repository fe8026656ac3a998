/**
 * Worker tasks for the cross-process owner tests (process_crash_test.ts):
 * run in a worker of a child process, or (`noop`) of the test process.
 */
import type { Event } from "../../primitives/event.ts";
import type { Mutex } from "../../primitives/mutex.ts";
import "../../shm/named.ts"; // revives named (process-backed) objects
import "../../workers/worker_process.ts"; // the worker runtime

/** Takes the lock, says so, and keeps it until the process is killed. */
export function holdLock(mutex: Mutex, held: Event): void {
  if (!mutex.lock({ timeout: 20_000 })) throw new Error("could not take the lock");
  held.set();
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
}

/** Takes the lock, says so, and ends still holding it (a bug a robust lock survives). */
export function returnHolding(mutex: Mutex, held: Event): void {
  if (!mutex.lock({ timeout: 20_000 })) throw new Error("could not take the lock");
  held.set();
}

/** Does nothing (a worker that has come and gone). */
export function noop(): void {}
