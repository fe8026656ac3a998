/**
 * Moving primitives to workers: before a task's arguments are posted, every
 * primitive in them (at any depth of arrays and plain objects) is replaced by
 * its plain handle; in the worker every handle is turned back into a working
 * primitive by a registry from `kind` to the class's `from()`. User code in a
 * worker therefore receives a `Mutex`, not a handle to revive by hand.
 *
 * Values other than arrays and plain objects (typed arrays, buffers, `Map`,
 * `Date`...) are passed through untouched, as structured clone carries them.
 *
 * @module
 */

import { Barrier } from "../primitives/barrier.ts";
import { Condition, type ConditionHandle } from "../primitives/condition.ts";
import { Event } from "../primitives/event.ts";
import { JoinableQueue } from "../primitives/joinable_queue.ts";
import { Mutex } from "../primitives/mutex.ts";
import { PipeEnd, type PipeEndHandle } from "../primitives/pipe.ts";
import { Queue, type QueueHandle } from "../primitives/queue.ts";
import { RecursiveMutex } from "../primitives/recursive_mutex.ts";
import { RingBuffer } from "../primitives/ring_buffer.ts";
import { Semaphore } from "../primitives/semaphore.ts";
import { SharedArray, SharedValue } from "../primitives/shared_value.ts";

/**
 * Rebuilds a primitive from its handle (a class's `from`).
 *
 * @example
 * ```ts
 * import { Mutex, registerRevivable, type Reviver } from "@concur/shm";
 *
 * // handles of kind "AppLock" arrive in workers as Mutex objects
 * const reviveAppLock: Reviver = (handle: never) => Mutex.from(handle);
 * registerRevivable("AppLock", reviveAppLock);
 * ```
 */
export type Reviver = (handle: never) => unknown;

const registry = new Map<string, Reviver>([
  ["Mutex", Mutex.from],
  ["RecursiveMutex", RecursiveMutex.from],
  ["Semaphore", Semaphore.from],
  ["Event", Event.from],
  ["Condition", (handle: ConditionHandle) => Condition.from(handle)],
  ["Barrier", Barrier.from],
  ["SharedValue", SharedValue.from],
  ["SharedArray", SharedArray.from],
  ["RingBuffer", RingBuffer.from],
  ["Queue", (handle: QueueHandle) => Queue.from(handle)],
  ["JoinableQueue", (handle: QueueHandle) => JoinableQueue.from(handle as never)],
  ["Pipe", (handle: PipeEndHandle) => PipeEnd.from(handle)],
]);

/**
 * Teaches the worker runtime to revive handles of kind `kind` (for
 * primitives defined outside this module). Register it in the module the
 * worker runs, at top level, so both sides know it.
 *
 * @param kind The `kind` field of the handles.
 * @param reviver Builds the object from its handle, typically `Kind.from`.
 *
 * @example
 * ```ts
 * import { Mutex, registerRevivable } from "@concur/shm";
 *
 * registerRevivable("MyMutex", (handle: never) => Mutex.from(handle));
 * ```
 */
export function registerRevivable(kind: string, reviver: Reviver): void {
  registry.set(kind, reviver);
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function revivableKind(value: object): boolean {
  const kind = (value as { kind?: unknown }).kind;
  return typeof kind === "string" && registry.has(kind);
}

/** Replaces every primitive in `value` by its handle (for posting to a worker). */
export function toTransferable(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map(toTransferable);
  if (!isPlainObject(value)) {
    const handle = (value as { handle?: unknown }).handle;
    if (
      handle !== null && typeof handle === "object" && revivableKind(handle) &&
      !ArrayBuffer.isView(value)
    ) {
      return handle;
    }
    return value;
  }
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = toTransferable(item);
  return out;
}

/** Replaces every primitive handle in `value` by the primitive (in the worker). */
export function revive(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map(revive);
  if (!isPlainObject(value)) return value;
  if (revivableKind(value)) {
    return registry.get((value as { kind: string }).kind)!(value as never);
  }
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = revive(item);
  return out;
}
