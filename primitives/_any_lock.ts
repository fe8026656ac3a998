/**
 * The locks another primitive can be bound to (`Condition`, shared values):
 * a `Mutex` or a `RecursiveMutex`, and how to revive either from its handle.
 *
 * @module
 */

import { LayoutError } from "./errors.ts";
import { Mutex, type MutexHandle } from "./mutex.ts";
import { RecursiveMutex, type RecursiveMutexHandle } from "./recursive_mutex.ts";

/** A lock a `Condition` or a shared value can use. */
export type AnyLock = Mutex | RecursiveMutex;

/** The handle of an {@linkcode AnyLock}. */
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
