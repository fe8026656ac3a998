/**
 * The guards returned by `RedisMutex.acquireAsync` and
 * `RedisSemaphore.guardAsync`: releasing is a round trip, so they are
 * `AsyncDisposable` (`await using`).
 *
 * @module
 */

/**
 * Holds a Redis permit or lock until released or disposed. Releasing twice
 * releases once.
 *
 * @example
 * ```ts
 * import { RedisSemaphore } from "@concur/shm/redis";
 *
 * const sem = await RedisSemaphore.open("redis://127.0.0.1:6379", "slots", { value: 2 });
 * {
 *   await using _permit = await sem.guardAsync();
 *   console.log(await sem.value()); // 1
 * }
 * console.log(await sem.value()); // 2
 * await sem.disconnect();
 * ```
 */
export interface RedisGuard extends AsyncDisposable {
  /** Releases now (the same as disposing); later calls do nothing. */
  release(): Promise<void>;
}

/**
 * The guard of a {@linkcode RedisMutex} hold, with what the acquisition
 * learned.
 *
 * @example
 * ```ts
 * import { RedisMutex } from "@concur/shm/redis";
 *
 * const mutex = await RedisMutex.open("redis://127.0.0.1:6379", "report");
 * {
 *   await using lock = await mutex.acquireAsync({ timeout: 1000 });
 *   console.log(typeof lock.fencingToken, lock.ownerDied); // "number" false
 * }
 * await mutex.disconnect();
 * ```
 */
export interface RedisLockGuard extends RedisGuard {
  /**
   * The fencing token of this hold: a counter incremented by every
   * acquisition of the lock, so a storage that remembers the highest token
   * it saw can refuse writes from a holder whose lease has since expired.
   */
  readonly fencingToken: number;
  /**
   * Whether a holder's lease expired while it held the lock (it died or
   * stalled) and nobody has called `markConsistent()` since.
   */
  readonly ownerDied: boolean;
  /** Aborted if the lease of this hold is found lost (renewal failed and another owner took it). */
  readonly signal: AbortSignal;
}

/** @internal Makes a guard whose release runs once. */
export function makeRedisGuard<G extends object>(
  release: () => Promise<void>,
  extra: G,
): RedisGuard & G {
  let released: Promise<void> | undefined;
  const done = (): Promise<void> => (released ??= release());
  return Object.assign(extra, { release: done, [Symbol.asyncDispose]: done });
}
