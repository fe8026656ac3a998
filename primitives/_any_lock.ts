/**
 * The locks another primitive can be bound to (`Condition`, shared values):
 * a `Mutex` or a `RecursiveMutex`, and how to revive either from its handle.
 *
 * @module
 */

import { LayoutError } from "./errors.ts";
import { Mutex, type MutexHandle } from "./mutex.ts";
import { RecursiveMutex, type RecursiveMutexHandle } from "./recursive_mutex.ts";

/**
 * A lock a `Condition` or a shared value can use.
 *
 * @example
 * ```ts
 * import { type AnyLock, Condition, Mutex, RecursiveMutex } from "@concur/shm";
 *
 * const locks: AnyLock[] = [new Mutex(), new RecursiveMutex()];
 * for (const lock of locks) {
 *   console.log(new Condition(lock).getLock() === lock); // true
 * }
 * ```
 */
export type AnyLock = Mutex | RecursiveMutex;

/**
 * The handle of an {@linkcode AnyLock}.
 *
 * @example
 * ```ts
 * import { type AnyLock, type AnyLockHandle, Mutex, RecursiveMutex } from "@concur/shm";
 *
 * // in a worker that receives a handle of either kind:
 * function reviveLock(handle: AnyLockHandle): AnyLock {
 *   return handle.kind === "Mutex" ? Mutex.from(handle) : RecursiveMutex.from(handle);
 * }
 * console.log(reviveLock(new RecursiveMutex().handle) instanceof RecursiveMutex); // true
 * ```
 */
export type AnyLockHandle = MutexHandle | RecursiveMutexHandle;

/** Whether `value` is a lock of this module. */
export function isLock(value: unknown): value is AnyLock {
  return value instanceof Mutex || value instanceof RecursiveMutex;
}

/**
 * Revives a `Mutex` or `RecursiveMutex` from its handle.
 *
 * @throws {LayoutError} If the handle is neither.
 */
export function reviveLock(handle: AnyLockHandle, owner: string): AnyLock {
  const kind = (handle as { kind?: unknown } | null | undefined)?.kind;
  if (kind === "Mutex") return Mutex.from(handle as MutexHandle);
  if (kind === "RecursiveMutex") return RecursiveMutex.from(handle as RecursiveMutexHandle);
  throw new LayoutError(
    "wrong-kind",
    `Cannot revive ${owner}: its lock handle is of kind "${
      String(kind)
    }", not a Mutex or RecursiveMutex`,
  );
}
