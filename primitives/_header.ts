/**
 * The header every primitive's memory starts with, and the checks made when a
 * primitive is revived from a handle.
 *
 * Layout (cells of 32 bits):
 *
 * | cell | content                                                  |
 * |------|----------------------------------------------------------|
 * | 0    | MAGIC (`0x53484d31`, "SHM1"), stored last when created   |
 * | 1    | kind code (see {@linkcode KIND})                          |
 * | 2    | layout version of that kind                               |
 * | 3    | byte length of the whole object, header included          |
 * | 4..7 | four kind-specific parameters (capacity, flags...)        |
 *
 * The primitive's own cells start at {@linkcode HEADER_CELLS}. The magic is
 * published with an atomic store after every other header cell, so a reader
 * that sees the magic also sees a complete header.
 *
 * @module
 */

import { attachMemory } from "../shm/attach.ts";
import type { Memory, MemoryHandle } from "../shm/memory.ts";
import { SabMemory } from "../shm/sab_memory.ts";
import { LayoutError } from "./errors.ts";

/** "SHM1" in ASCII. */
export const MAGIC = 0x53484d31;
/** Cells taken by the header; a primitive's own cells start here. */
export const HEADER_CELLS = 8;
/** Bytes taken by the header. */
export const HEADER_BYTES: number = HEADER_CELLS * 4;
/** First cell of the kind-specific parameters. */
export const PARAM_CELL = 4;

/** Kind codes stored in cell 1. Never renumber: they are part of the layout. */
export const KIND: Readonly<Record<KindName, number>> = {
  Mutex: 1,
  RecursiveMutex: 2,
  Semaphore: 3,
  Event: 4,
  Condition: 5,
  Barrier: 6,
  SharedValue: 7,
  RingBuffer: 8,
  Queue: 9,
  JoinableQueue: 10,
  Pipe: 11,
};

/**
 * The name of a kind of primitive.
 *
 * @example
 * ```ts
 * import { Event, type KindName, Mutex } from "@concur/shm";
 *
 * const kinds: KindName[] = [new Mutex().handle.kind, new Event().handle.kind];
 * console.log(kinds); // [ "Mutex", "Event" ]
 * ```
 */
export type KindName =
  | "Mutex"
  | "RecursiveMutex"
  | "Semaphore"
  | "Event"
  | "Condition"
  | "Barrier"
  | "SharedValue"
  | "RingBuffer"
  | "Queue"
  | "JoinableQueue"
  | "Pipe";

/**
 * The plain, structured-cloneable form of a primitive: post it to a worker
 * and revive it there with `Kind.from(handle)`.
 *
 * @example
 * ```ts
 * import { Event, type PrimitiveHandle } from "@concur/shm";
 *
 * const event = new Event();
 * const handle: PrimitiveHandle<"Event"> = event.handle; // postMessage(handle) to a worker
 * const there = Event.from(handle); // in the worker
 * event.set();
 * console.log(handle.kind, there.isSet()); // "Event" true
 * ```
 */
export interface PrimitiveHandle<K extends string = string> {
  /** Which primitive this is. */
  readonly kind: K;
  /** Where its state lives. */
  readonly memory: MemoryHandle;
}

/** Writes a complete header; the magic goes last. */
export function writeHeader(
  memory: Memory,
  kind: KindName,
  version: number,
  params: readonly number[] = [],
): void {
  memory.store(1, KIND[kind]);
  memory.store(2, version);
  memory.store(3, memory.byteLength);
  for (let i = 0; i < 4; i++) memory.store(PARAM_CELL + i, params[i] ?? 0);
  memory.store(0, MAGIC);
}

/**
 * Where a new primitive's state is allocated: a function from a byte length
 * to a fresh, zero-filled {@linkcode Memory} of at least that size. The
 * default allocates a `SharedArrayBuffer` (threads of one process); the
 * process backends and the checking memory of `@concur/shm/testing` provide
 * others.
 *
 * @example
 * ```ts
 * import { type MemoryAllocator, Mutex, SabMemory } from "@concur/shm";
 *
 * let allocated = 0;
 * const counting: MemoryAllocator = (byteLength) => {
 *   allocated += byteLength;
 *   return new SabMemory(byteLength);
 * };
 * const mutex = new Mutex({ allocate: counting });
 * console.log(allocated > 0, mutex.tryLock()); // true true
 * ```
 */
export type MemoryAllocator = (byteLength: number) => Memory;

/**
 * Options every primitive constructor accepts.
 *
 * @example
 * ```ts
 * import { type CreateOptions, Event, Mutex, SabMemory } from "@concur/shm";
 *
 * // every primitive constructor takes it (process backends provide other allocators)
 * const options: CreateOptions = { allocate: (byteLength) => new SabMemory(byteLength) };
 * const mutex = new Mutex(options);
 * const event = new Event(options);
 * console.log(mutex.tryLock(), event.isSet()); // true false
 * ```
 */
export interface CreateOptions {
  /** Where to allocate the state (default: a new `SharedArrayBuffer`). */
  allocate?: MemoryAllocator;
}

/** Tells a `Memory` passed to a constructor (internal revival) from its options. */
export function isMemory(value: unknown): value is Memory {
  return typeof (value as Memory | undefined)?.compareExchange === "function";
}

/**
 * Allocates memory for a new primitive (with `allocate`, or a fresh
 * `SharedArrayBuffer`) and writes its header.
 */
export function createMemory(
  kind: KindName,
  version: number,
  byteLength: number,
  params: readonly number[] = [],
  allocate?: MemoryAllocator,
): Memory {
  const memory = allocate ? allocate(byteLength) : new SabMemory(byteLength);
  if (memory.byteLength < byteLength) {
    throw new RangeError(
      `Cannot create ${kind}: the allocator returned ${memory.byteLength} bytes, ${byteLength} needed`,
    );
  }
  writeHeader(memory, kind, version, params);
  return memory;
}

/**
 * Attaches to a handle's memory and checks that it holds a primitive of
 * `kind` at `version`, at least `minBytes` long.
 *
 * @throws {LayoutError} For a handle of another kind, a buffer that is not
 * shared, too small, not initialised, of another kind or version.
 */
export function attachPrimitive(
  handle: PrimitiveHandle,
  kind: KindName,
  version: number,
  minBytes: number = HEADER_BYTES,
): Memory {
  if (handle === null || typeof handle !== "object") {
    throw new LayoutError(
      "not-shared",
      `Cannot revive ${kind}: expected a handle object, received ${handle}`,
    );
  }
  if (handle.kind !== kind) {
    throw new LayoutError(
      "wrong-kind",
      `Cannot revive ${kind}: the handle is of kind "${String(handle.kind)}"`,
    );
  }
  const memory = attachMemory(handle.memory);
  checkHeader(memory, kind, version, minBytes);
  return memory;
}

/** Checks a memory's header (see {@linkcode attachPrimitive}). */
export function checkHeader(
  memory: Memory,
  kind: KindName,
  version: number,
  minBytes: number = HEADER_BYTES,
): void {
  if (memory.byteLength < Math.max(HEADER_BYTES, minBytes)) {
    throw new LayoutError(
      "too-small",
      `Cannot revive ${kind}: ${memory.byteLength} bytes is smaller than the ${
        Math.max(HEADER_BYTES, minBytes)
      } it needs`,
    );
  }
  const magic = memory.load(0);
  if (magic !== MAGIC) {
    throw new LayoutError(
      "bad-magic",
      `Cannot revive ${kind}: the memory does not start with a primitive header (found 0x${
        (magic >>> 0).toString(16)
      })`,
    );
  }
  const foundKind = memory.load(1);
  if (foundKind !== KIND[kind]) {
    const name = Object.entries(KIND).find(([, code]) => code === foundKind)?.[0];
    throw new LayoutError(
      "wrong-kind",
      `Cannot revive ${kind}: the memory holds a ${
        name ?? `primitive of unknown kind ${foundKind}`
      }`,
    );
  }
  const foundVersion = memory.load(2);
  if (foundVersion !== version) {
    throw new LayoutError(
      "wrong-version",
      `Cannot revive ${kind}: layout version ${foundVersion} is not the supported version ${version}`,
    );
  }
  const recorded = memory.load(3);
  if (recorded !== memory.byteLength) {
    throw new LayoutError(
      "too-small",
      `Cannot revive ${kind}: the header records ${recorded} bytes but the memory has ${memory.byteLength}`,
    );
  }
}

/** Reads kind-specific parameter `i` (0..3) of the header. */
export function readParam(memory: Memory, i: number): number {
  return memory.load(PARAM_CELL + i);
}
