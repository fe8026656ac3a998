/**
 * Tasks run in WorkerProcess workers by process_interrupt_test.ts: block in
 * a wait on a process memory (mapped or file-backed) until terminated.
 */
import type { Event } from "../../primitives/event.ts";
import type { Mutex } from "../../primitives/mutex.ts";
import "../../shm/named.ts"; // the process backends, for revival in the worker
import "../../workers/worker_process.ts"; // runs the task in the worker

/** Blocks in `lock()` on a mutex held elsewhere; writes 1 to out[0] if it ever returns
 * (out[1] = 1 just before it blocks). */
export function lockForever(mutex: Mutex, out: Int32Array): void {
  Atomics.store(out, 1, 1); // about to block
  mutex.lock();
  Atomics.store(out, 0, 1);
}

/** Blocks in an async wait on an event nobody sets. */
export async function waitAsyncForever(event: Event, out: Int32Array): Promise<void> {
  Atomics.store(out, 1, 1); // about to block
  await event.waitAsync();
  Atomics.store(out, 0, 1);
}
