/** Functions run by tests/workers_test.ts and tests/robust_test.ts through WorkerProcess. */
import process from "node:process";
import type { Barrier } from "../../primitives/barrier.ts";
import type { Event } from "../../primitives/event.ts";
import { Mutex } from "../../primitives/mutex.ts";
import { RecursiveMutex } from "../../primitives/recursive_mutex.ts";
import { workerInfo, WorkerProcess } from "../../workers/worker_process.ts";

/** Adds `n` to counter[0] under the lock, `n` times 1. */
export function addLocked(lock: Mutex, counter: Int32Array, n: number): void {
  if (!(lock instanceof Mutex)) throw new TypeError("lock did not arrive revived");
  for (let i = 0; i < n; i++) {
    lock.lock();
    counter[0] = counter[0] + 1;
    lock.unlock();
  }
}

/** Waits for `go`, then does {@linkcode addLocked}. */
export function addLockedAfter(go: Event, lock: Mutex, counter: Int32Array, n: number): void {
  go.wait();
  addLocked(lock, counter, n);
}

/** Nested primitives in plain objects and arrays arrive revived too. */
export function checkNested(arg: { locks: [Mutex, RecursiveMutex]; out: Int32Array }): void {
  const [a, b] = arg.locks;
  Atomics.store(arg.out, 0, (a instanceof Mutex ? 1 : 0) + (b instanceof RecursiveMutex ? 2 : 0));
}

/** Writes the worker's info into a shared int array: id, daemon. */
export function reportInfo(out: Int32Array): void {
  const info = workerInfo()!;
  out[0] = info.id;
  out[1] = info.daemon ? 1 : 0;
}

/** Throws a RangeError. */
export function fail(message: string): void {
  throw new RangeError(message);
}

/** Async task that throws after an await. */
export async function failAsync(): Promise<void> {
  await Promise.resolve();
  throw new TypeError("async failure");
}

/** Takes the lock with a guard, signals, then waits forever on an event (until terminated). */
export function holdWithGuardAndWait(lock: Mutex, held: Event, never: Event): void {
  using _guard = lock.acquire();
  held.set();
  never.wait();
}

/** Takes the lock WITHOUT a guard, signals, then waits forever (the lock stays held at death). */
export function holdAndWait(lock: Mutex, held: Event, never: Event): void {
  lock.lock();
  held.set();
  never.wait();
}

/** The same for a RecursiveMutex (taken twice). */
export function holdRecursiveAndWait(lock: RecursiveMutex, held: Event, never: Event): void {
  lock.lock();
  lock.lock();
  held.set();
  never.wait();
}

/** Takes the lock, signals, then waits asynchronously forever (until terminated). */
export async function holdWithGuardAndWaitAsync(
  lock: Mutex,
  held: Event,
  never: Event,
): Promise<void> {
  using _guard = await lock.acquireAsync();
  held.set();
  await never.waitAsync();
}

/**
 * Takes the lock, signals, then spins (a hot loop that no interrupt can stop)
 * for `ms`; sets `spun` when the loop is over.
 */
export function holdAndSpin(lock: Mutex, held: Event, ms: number, spun: Event): void {
  lock.lock();
  held.set();
  const end = performance.now() + ms;
  while (performance.now() < end) { /* busy */ }
  spun.set();
}

/** Takes the lock and returns without unlocking it. */
export function lockAndReturn(lock: Mutex): void {
  lock.lock();
}

/** Waits on an event (blocking) and records that it ran. */
export function waitThenMark(event: Event, out: Int32Array): void {
  event.wait();
  Atomics.store(out, 0, 1);
}

/** Blocks in `lock()` on a held mutex; records the outcome: 1 acquired, 2 ownerDied. */
export function lockAndReport(lock: Mutex, out: Int32Array): void {
  const got = lock.lock({ timeout: 5000 });
  Atomics.store(out, 0, got ? (lock.ownerDied ? 2 : 1) : -1);
  if (got) lock.unlock();
}

/** Starts a child worker from inside this worker, joins it synchronously, reports its id and code. */
export function spawnChild(lock: Mutex, counter: Int32Array, out: Int32Array): void {
  const child = new WorkerProcess({
    module: import.meta.url,
    fn: "addLocked",
    args: [lock, counter, 100],
  });
  child.start();
  if (!child.join({ timeout: 10_000 })) throw new Error("child did not end");
  out[0] = child.id!;
  out[1] = child.exitCode!;
}

/** Waits at the barrier with no timeout: only a terminate() of its worker ends it. */
export function waitAtBarrier(barrier: Barrier): number {
  return barrier.wait();
}

/** {@linkcode waitAtBarrier} with the async form. */
export async function waitAtBarrierAsync(barrier: Barrier): Promise<number> {
  return await barrier.waitAsync();
}

/** Ends the worker thread with `Deno.exit(code)` in the middle of the task. */
export function denoExit(code: number): void {
  Deno.exit(code);
}

/** Ends the worker thread with node's `process.exit(code)` after an await. */
export async function processExit(code: number): Promise<void> {
  await Promise.resolve();
  process.exit(code);
}

/** An error subclass that does not set `name`, with an own data property. */
export class CodedError extends Error {
  /** Carried to the parent's `RemoteError`. */
  code = 7;
}

/** Throws a {@linkcode CodedError}. */
export function failCoded(message: string): never {
  throw new CodedError(message);
}
