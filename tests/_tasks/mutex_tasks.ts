/** Functions run inside workers by tests/mutex_test.ts. */
import { Mutex, type MutexHandle, WorkerProcess } from "../../mod.ts";

/** Increments a plain (non-atomic) Int32 counter `n` times, each under the mutex. */
export function incrementLocked(handle: MutexHandle, counter: Int32Array, n: number): number {
  const mutex = Mutex.from(handle);
  for (let i = 0; i < n; i++) {
    mutex.lock();
    counter[0] = counter[0] + 1;
    mutex.unlock();
  }
  return n;
}

/** The same increments with no lock at all (updates can be lost). */
export function incrementUnlocked(counter: Int32Array, n: number, start: Int32Array): number {
  Atomics.add(start, 0, 1);
  while (Atomics.load(start, 0) < 2) { /* start together to overlap */ }
  for (let i = 0; i < n; i++) {
    const v = counter[0];
    counter[0] = v + 1;
  }
  return n;
}

/**
 * Holds the mutex for `holdMs` and releases it; signals `flag[0] = 1` once
 * held, so the test can start waiting on the lock knowing it is taken.
 */
export function holdFor(handle: MutexHandle, flag: Int32Array, holdMs: number): boolean {
  const mutex = Mutex.from(handle);
  mutex.lock();
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
  Atomics.wait(flag, 1, 0, holdMs); // sleep holdMs (flag[1] never changes)
  mutex.unlock();
  return true;
}

/** Tries to lock with a timeout; returns [acquired, elapsedMs]. */
export function lockWithTimeout(handle: MutexHandle, timeout: number): [boolean, number] {
  const mutex = Mutex.from(handle);
  const start = performance.now();
  const acquired = mutex.lock({ timeout });
  const elapsed = performance.now() - start;
  if (acquired) mutex.unlock();
  return [acquired, elapsed];
}

/** Unlocks a mutex this worker does not hold (Python's Lock allows it). */
export function unlockFromHere(handle: MutexHandle): boolean {
  Mutex.from(handle).unlock();
  return true;
}

/**
 * Abandons a `lockAsync` (abort), then blocks this thread synchronously until
 * `flags[1]` is set (by {@linkcode lockThenFlag} in another worker) or
 * `blockMs` pass. Returns whether the flag came while it was blocked: with
 * its event loop stopped, an abandoned waiter that took the unlock's wake-up
 * could not pass it on, and the other worker would stay asleep.
 */
export async function abandonLockAsyncThenBlock(
  handle: MutexHandle,
  flags: Int32Array,
  blockMs: number,
): Promise<boolean> {
  const mutex = Mutex.from(handle);
  const controller = new AbortController();
  const pending = mutex.lockAsync({ signal: controller.signal });
  controller.abort(new Error("abandoned"));
  await pending.catch(() => {});
  Atomics.store(flags, 0, 1);
  Atomics.notify(flags, 0);
  return Atomics.wait(flags, 1, 0, blockMs) !== "timed-out";
}

/** Locks (waiting up to `timeout`), sets `flags[1]`, unlocks; returns whether it locked. */
export function lockThenFlag(handle: MutexHandle, flags: Int32Array, timeout: number): boolean {
  const mutex = Mutex.from(handle);
  Atomics.store(flags, 2, 1); // about to block
  const locked = mutex.lock({ timeout });
  Atomics.store(flags, 1, 1);
  Atomics.notify(flags, 1);
  if (locked) mutex.unlock();
  return locked;
}

/** Locks (waiting up to `timeout`); returns [locked, ownerDied] and unlocks. */
export function lockReportingOwnerDied(handle: MutexHandle, timeout: number): [boolean, boolean] {
  const mutex = Mutex.from(handle);
  const locked = mutex.lock({ timeout });
  const ownerDied = mutex.ownerDied;
  if (locked) {
    mutex.markConsistent();
    mutex.unlock();
  }
  return [locked, ownerDied];
}

/**
 * Starts (and joins) a worker of its own first, which gives this plain
 * worker a liveness table of its own; then locks (waiting up to `timeout`)
 * and returns [locked, ownerDied].
 */
export async function startWorkerThenLock(
  handle: MutexHandle,
  timeout: number,
): Promise<[boolean, boolean]> {
  const child = new WorkerProcess({
    module: new URL("./worker_tasks.ts", import.meta.url),
    fn: "reportInfo",
    args: [new Int32Array(new SharedArrayBuffer(64))],
  });
  child.start();
  await child.joinAsync({ timeout: 10_000 });
  return lockReportingOwnerDied(handle, timeout);
}
