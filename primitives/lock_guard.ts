/**
 * The guard returned by `acquire()` on locks and semaphores: releasing it is
 * tied to a scope with `using`, so no lock is left behind on any exit path.
 *
 * @module
 */

/**
 * Holds a lock (or a permit) until disposed. Disposing twice releases once.
 *
 * @example
 * ```ts
 * import { Mutex } from "@concur/shm";
 *
 * const mutex = new Mutex();
 * {
 *   using _guard = mutex.acquire();
 *   console.log(mutex.locked()); // true
 * }
 * console.log(mutex.locked()); // false
 * ```
 */
export interface LockGuard extends Disposable {
  /** Releases now (the same as disposing); later calls do nothing. */
  release(): void;
}

/** Makes a guard that calls `release` once. */
export function makeGuard(release: () => void): LockGuard {
  let held = true;
  const done = (): void => {
    if (!held) return;
    held = false;
    release();
  };
  return { release: done, [Symbol.dispose]: done };
}
