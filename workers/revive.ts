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

/**
 * Marks a class whose instances must never be sent to another thread or
 * process (`Pool`, `WorkerProcess`, `ProcessHandle`): structured clone and
 * JSON would turn them into plain objects that look like arguments but do
 * nothing. The property's value names the class in error messages.
 */
export const NOT_SENDABLE: unique symbol = Symbol.for("@concur/shm:not-sendable");

/** Whether `value` is a primitive of this module (it has a handle with a kind and a memory). */
function isPrimitive(value: object): boolean {
  if (ArrayBuffer.isView(value)) return false;
  const handle = (value as { handle?: { kind?: unknown; memory?: unknown } }).handle;
  return handle !== null && typeof handle === "object" && typeof handle.kind === "string" &&
    handle.memory !== null && typeof handle.memory === "object";
}

/**
 * Throws a `TypeError` naming the first value in `value` (searched through
 * arrays, plain objects, `Map`s and `Set`s; each object once) that would not
 * arrive as itself: an instance of a {@linkcode NOT_SENDABLE} class, or a
 * primitive of this module where `primitives` says it cannot go
 * (`"nowhere"`; `"revived"`: only in arrays and plain objects, which is
 * where {@linkcode toTransferable} replaces them by handles).
 *
 * @param value What is about to be sent.
 * @param path How to name `value` in the message (for example `"args"`).
 * @param primitives Where primitives of this module may appear.
 * @param context The start of the message (`Cannot submit task "f"`).
 * @param refusal Why a primitive cannot go there, and what to do instead.
 */
export function assertSendable(
  value: unknown,
  path: string,
  primitives: "nowhere" | "revived",
  context: string,
  refusal: string,
): void {
  // One visit per object and per kind of position (a container reachable
  // both where primitives are revived and inside a Map is checked for both).
  const seen = [new Set<object>(), new Set<object>()];
  const stack: [object, string, boolean][] = [];
  const visit = (item: unknown, at: string, revivable: boolean) => {
    if (item === null || typeof item !== "object") return;
    const visited = seen[revivable ? 1 : 0];
    if (visited.has(item)) return;
    visited.add(item);
    stack.push([item, at, revivable]);
  };
  visit(value, path, true);
  while (stack.length > 0) {
    const [item, at, revivable] = stack.pop()!;
    const marker = (item as { [NOT_SENDABLE]?: unknown })[NOT_SENDABLE];
    if (marker !== undefined) {
      throw new TypeError(
        `${context}: ${at} is ${String(marker)}, which cannot be sent to another thread or process`,
      );
    }
    if (Array.isArray(item)) {
      for (let i = item.length - 1; i >= 0; i--) visit(item[i], `${at}[${i}]`, revivable);
    } else if (item instanceof Map) {
      for (const [key, entry] of item) {
        visit(key, `a key of ${at}`, false);
        const name = typeof key === "string"
          ? JSON.stringify(key)
          : typeof key === "number"
          ? key
          : "…";
        visit(entry, `${at}.get(${name})`, false);
      }
    } else if (item instanceof Set) {
      for (const entry of item) visit(entry, `an element of ${at}`, false);
    } else if (isPlainObject(item)) {
      for (const key of Object.keys(item).reverse()) {
        visit((item as Record<string, unknown>)[key], `${at}.${key}`, revivable);
      }
    } else if (isPrimitive(item) && (primitives === "nowhere" || !revivable)) {
      const kind = (item as { handle: { kind: string } }).handle.kind;
      throw new TypeError(`${context}: ${at} is a ${kind}: ${refusal}`);
    }
  }
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

/** The memory backends of the primitive handles in `value` (as `toTransferable` left them). */
export function memoryBackendsIn(value: unknown, found: Set<string> = new Set()): Set<string> {
  if (value === null || typeof value !== "object") return found;
  if (Array.isArray(value)) {
    for (const item of value) memoryBackendsIn(item, found);
    return found;
  }
  if (!isPlainObject(value)) return found;
  if (revivableKind(value)) {
    const backend = (value as { memory?: { backend?: unknown } }).memory?.backend;
    if (typeof backend === "string") found.add(backend);
  }
  for (const item of Object.values(value)) memoryBackendsIn(item, found);
  return found;
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
