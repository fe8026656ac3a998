/**
 * `CheckingMemory`: a {@linkcode Memory} in which every cell operation, byte
 * copy, wait and notify is a scheduling point decided by a controller.
 *
 * All checking memories of a thread live in one shared "heap"
 * (`SharedArrayBuffer`) that the controller and every simulated thread map.
 * A primitive is created on the controller side with
 * `new Kind({ allocate: checkingAllocator })` (a bump allocation in the
 * heap), posted as its handle (plain JSON: backend `"checking"`, offset and
 * length), and revived in a simulated thread with `Kind.from(handle)`.
 *
 * Outside a schedule (on the controller, or in a thread that is not being
 * simulated) a checking memory is an ordinary shared memory: operations run
 * at once and waits are real `Atomics.wait`s. Inside a schedule the thread's
 * scheduler hook is installed ({@linkcode installScheduler}): before each
 * operation the thread announces it and sleeps until the controller grants
 * it, then performs it, alone. Waits and notifies are not performed at all:
 * the controller models them (who sleeps on which cell, whom a notify wakes,
 * when a timeout fires), so they are deterministic.
 *
 * @module
 */

import { registerMemoryBackend } from "../attach.ts";
import type { Memory, MemoryHandle, WaitResult } from "../memory.ts";
import { LayoutError } from "../../primitives/errors.ts";
import type { MemoryAllocator } from "../../primitives/_header.ts";
import {
  OP_ADD,
  OP_CAS,
  OP_EXCHANGE,
  OP_LOAD,
  OP_READ_BYTES,
  OP_STORE,
  OP_VIEW_BYTES,
  OP_WRITE_BYTES,
} from "./protocol.ts";

/**
 * Default size of the checking heap: room for many small primitives.
 *
 * @example
 * ```ts
 * import { checkingHeap, DEFAULT_HEAP_BYTES } from "@concur/shm/testing";
 *
 * // the heap a thread gets unless useCheckingHeap() gave it another
 * console.log(checkingHeap().byteLength === DEFAULT_HEAP_BYTES); // true
 * ```
 */
export const DEFAULT_HEAP_BYTES: number = 1 << 22;

/**
 * What a simulated thread does at each scheduling point: announce the
 * operation and return once the controller grants it (or throw to unwind an
 * aborted schedule). Waits and notifies are decided entirely by it.
 *
 * @example
 * ```ts
 * import { checkingAllocator, installScheduler, type SchedulerHook } from "@concur/shm/testing";
 *
 * const seen: number[] = [];
 * const recorder: SchedulerHook = {
 *   step: (_op, where) => void seen.push(where), // grant every step at once
 *   wait: () => "timed-out",
 *   notify: () => 0,
 * };
 * const memory = checkingAllocator(8);
 * installScheduler(recorder);
 * memory.add(1, 5);
 * installScheduler(null);
 * console.log(seen.length > 0, memory.load(1)); // true 5
 * ```
 */
export interface SchedulerHook {
  /** Announces a plain operation on heap cell / byte offset `where`; returns when granted. */
  step(op: number, where: number): void;
  /** A modelled `wait` on heap cell `cell`. */
  wait(cell: number, expected: number, timeoutMs: number): WaitResult;
  /** A modelled `notify` on heap cell `cell`; returns how many waiters it woke. */
  notify(cell: number, count: number): number;
}

let heap: SharedArrayBuffer | undefined;
let heapCells: Int32Array;
let heapBytes: Uint8Array;
let heapTop = 0;
let scheduler: SchedulerHook | null = null;

/**
 * The heap that checking memories of this thread live in (created on first
 * use, {@linkcode DEFAULT_HEAP_BYTES} long).
 *
 * @example
 * ```ts
 * import { checkingHeap } from "@concur/shm/testing";
 *
 * console.log(checkingHeap().byteLength > 0); // true
 * ```
 */
export function checkingHeap(): SharedArrayBuffer {
  if (heap === undefined) useCheckingHeap(new SharedArrayBuffer(DEFAULT_HEAP_BYTES));
  return heap!;
}

/**
 * Makes `buffer` the heap of this thread (simulated threads map the
 * controller's heap this way).
 *
 * @example
 * ```ts
 * import { useCheckingHeap } from "@concur/shm/testing";
 *
 * useCheckingHeap(new SharedArrayBuffer(1 << 16));
 * ```
 */
export function useCheckingHeap(buffer: SharedArrayBuffer): void {
  if (!(buffer instanceof SharedArrayBuffer)) {
    throw new LayoutError("not-shared", "The checking heap must be a SharedArrayBuffer");
  }
  heap = buffer;
  heapCells = new Int32Array(buffer);
  heapBytes = new Uint8Array(buffer);
  heapTop = 0;
}

/**
 * Frees every checking memory at once (zero-fills what was allocated). The
 * explorer calls it before each schedule, so each schedule starts from fresh
 * primitives.
 *
 * @example
 * ```ts
 * import { checkingAllocator, resetCheckingHeap } from "@concur/shm/testing";
 *
 * checkingAllocator(64);
 * resetCheckingHeap(); // the next allocation starts at offset 0 again
 * ```
 */
export function resetCheckingHeap(): void {
  checkingHeap();
  heapBytes.fill(0, 0, heapTop);
  heapTop = 0;
}

/**
 * A {@linkcode MemoryAllocator} that places a primitive in the checking heap:
 * pass it as `allocate` to any primitive constructor.
 *
 * @example Create a mutex whose every operation a schedule controls
 * ```ts
 * import { Mutex } from "@concur/shm";
 * import { checkingAllocator } from "@concur/shm/testing";
 *
 * const mutex = new Mutex({ allocate: checkingAllocator });
 * console.log(mutex.handle.memory.backend); // "checking"
 * ```
 */
export const checkingAllocator: MemoryAllocator = (byteLength: number): Memory => {
  checkingHeap();
  if (!Number.isSafeInteger(byteLength) || byteLength < 4) {
    throw new RangeError(`Cannot allocate checking memory: byteLength ${byteLength}`);
  }
  const length = (byteLength + 3) & ~3;
  if (heapTop + length > heap!.byteLength) {
    throw new RangeError(
      `Cannot allocate ${length} bytes of checking memory: the heap of ${
        heap!.byteLength
      } bytes is full (call resetCheckingHeap between schedules)`,
    );
  }
  const memory = new CheckingMemory(heapTop, length);
  heapTop += (length + 7) & ~7;
  return memory;
};

/**
 * Installs (or, with `null`, removes) this thread's scheduler hook. Done by
 * the simulated-thread worker around each scenario function.
 *
 * @example
 * ```ts
 * import { installScheduler } from "@concur/shm/testing";
 *
 * installScheduler(null); // operations run directly again
 * ```
 */
export function installScheduler(hook: SchedulerHook | null): void {
  scheduler = hook;
}

/**
 * A region of the checking heap, seen as a {@linkcode Memory}.
 *
 * @example Outside a schedule it behaves like any shared memory
 * ```ts
 * import { checkingAllocator } from "@concur/shm/testing";
 *
 * const memory = checkingAllocator(16);
 * memory.store(0, 41);
 * memory.add(0, 1);
 * console.log(memory.load(0)); // 42
 * ```
 */
export class CheckingMemory implements Memory {
  /** Always `"checking"`. */
  readonly backend: string = "checking";
  /** Size of the region in bytes. */
  readonly byteLength: number;
  readonly #byteOffset: number;
  readonly #base: number;

  /**
   * Maps `[byteOffset, byteOffset + byteLength)` of this thread's heap.
   * Prefer {@linkcode checkingAllocator}.
   *
   * @param byteOffset Start of the region in the heap (a multiple of 4).
   * @param byteLength Size of the region (a multiple of 4).
   * @throws {LayoutError} If the region is misaligned or outside the heap.
   */
  constructor(byteOffset: number, byteLength: number) {
    const buffer = checkingHeap();
    if (
      !Number.isSafeInteger(byteOffset) || !Number.isSafeInteger(byteLength) ||
      byteOffset % 4 !== 0 || byteLength % 4 !== 0
    ) {
      throw new LayoutError(
        "misaligned",
        `Cannot attach checking memory: offset ${byteOffset} and length ${byteLength} must be multiples of 4`,
      );
    }
    if (byteOffset < 0 || byteLength < 4 || byteOffset + byteLength > buffer.byteLength) {
      throw new LayoutError(
        "too-small",
        `Cannot attach checking memory: region [${byteOffset}, ${
          byteOffset + byteLength
        }) is outside the heap of ${buffer.byteLength} bytes`,
      );
    }
    this.#byteOffset = byteOffset;
    this.#base = byteOffset / 4;
    this.byteLength = byteLength;
  }

  /**
   * Attaches to the region a handle describes, in this thread's heap.
   *
   * @param handle A handle from {@linkcode CheckingMemory.handle}.
   * @returns The memory.
   * @throws {LayoutError} If the handle is not a checking handle.
   *
   * @example In a scenario thread, revive a memory the setup allocated
   * ```ts
   * import { checkingAllocator, CheckingMemory } from "@concur/shm/testing";
   *
   * const handle = checkingAllocator(8).handle(); // in setup()
   * const memory = CheckingMemory.from(handle); // in the thread
   * memory.add(0, 1);
   * ```
   */
  static from(handle: MemoryHandle): CheckingMemory {
    if (handle === null || typeof handle !== "object" || handle.backend !== "checking") {
      throw new LayoutError("not-shared", "Cannot attach checking memory: not a checking handle");
    }
    return new CheckingMemory(handle.byteOffset, handle.byteLength);
  }

  /**
   * The region as plain JSON data (the heap itself is shared once per thread).
   *
   * @example
   * ```ts
   * import { checkingAllocator } from "@concur/shm/testing";
   *
   * console.log(checkingAllocator(8).handle().backend); // "checking"
   * ```
   */
  handle(): MemoryHandle {
    return { backend: "checking", byteOffset: this.#byteOffset, byteLength: this.byteLength };
  }

  #check(cell: number): number {
    if (!(cell >= 0 && cell * 4 < this.byteLength)) {
      throw new RangeError(`Cell ${cell} is outside a checking memory of ${this.byteLength} bytes`);
    }
    return this.#base + cell;
  }

  /** Atomically reads a cell (a scheduling point). */
  load(cell: number): number {
    const at = this.#check(cell);
    scheduler?.step(OP_LOAD, at);
    return Atomics.load(heapCells, at);
  }
  /** Atomically writes a cell (a scheduling point). */
  store(cell: number, value: number): void {
    const at = this.#check(cell);
    scheduler?.step(OP_STORE, at);
    Atomics.store(heapCells, at, value);
  }
  /** Reads a cell (one scheduling point, like `load`: the explorer tries every order anyway). */
  loadPlain(cell: number): number {
    return this.load(cell);
  }
  /** Writes a cell (one scheduling point, like `store`). */
  storePlain(cell: number, value: number): void {
    this.store(cell, value);
  }
  /** Atomically adds to a cell; returns the old value (a scheduling point). */
  add(cell: number, delta: number): number {
    const at = this.#check(cell);
    scheduler?.step(OP_ADD, at);
    return Atomics.add(heapCells, at, delta);
  }
  /** Atomically swaps a cell; returns the old value (a scheduling point). */
  exchange(cell: number, value: number): number {
    const at = this.#check(cell);
    scheduler?.step(OP_EXCHANGE, at);
    return Atomics.exchange(heapCells, at, value);
  }
  /** Atomic compare-and-swap; returns the value the cell held (a scheduling point). */
  compareExchange(cell: number, expected: number, replacement: number): number {
    const at = this.#check(cell);
    scheduler?.step(OP_CAS, at);
    return Atomics.compareExchange(heapCells, at, expected, replacement);
  }

  /**
   * Waits while the cell holds `expected`. In a schedule the controller
   * decides when (whether) it returns; a finite timeout is an event the
   * schedule may pick at any point, advancing the virtual clock.
   */
  wait(cell: number, expected: number, timeoutMs: number = Infinity): WaitResult {
    const at = this.#check(cell);
    const timeout = Number.isNaN(timeoutMs) ? Infinity : Math.max(0, timeoutMs);
    if (scheduler !== null) return scheduler.wait(at, expected | 0, timeout);
    return Atomics.wait(heapCells, at, expected, timeout);
  }

  /**
   * Waits as {@linkcode CheckingMemory.wait} does (a simulated thread runs
   * one operation at a time, so the wait is decided before the promise
   * settles).
   */
  waitAsync(
    cell: number,
    expected: number,
    timeoutMs: number = Infinity,
    signal?: AbortSignal,
  ): Promise<WaitResult> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (scheduler !== null) return Promise.resolve(this.wait(cell, expected, timeoutMs));
    const at = this.#check(cell);
    const started = Atomics.waitAsync(heapCells, at, expected, timeoutMs);
    return started.async ? started.value : Promise.resolve(started.value);
  }

  /** Wakes up to `count` waiters of the cell (modelled in a schedule). */
  notify(cell: number, count: number = Infinity): number {
    const at = this.#check(cell);
    if (scheduler !== null) return scheduler.notify(at, count);
    return Atomics.notify(heapCells, at, count);
  }

  /** Copies bytes out of the region (one scheduling point). */
  readBytes(byteOffset: number, target: Uint8Array): void {
    this.#checkBytes(byteOffset, target.length);
    scheduler?.step(OP_READ_BYTES, this.#byteOffset + byteOffset);
    target.set(
      heapBytes.subarray(
        this.#byteOffset + byteOffset,
        this.#byteOffset + byteOffset + target.length,
      ),
    );
  }
  /** Copies bytes into the region (one scheduling point). */
  writeBytes(byteOffset: number, source: Uint8Array): void {
    this.#checkBytes(byteOffset, source.length);
    scheduler?.step(OP_WRITE_BYTES, this.#byteOffset + byteOffset);
    heapBytes.set(source, this.#byteOffset + byteOffset);
  }
  /** Copies whole cells out of the region: a byte copy (one scheduling point). */
  readCells(cell: number, target: Int32Array): void {
    this.readBytes(cell * 4, new Uint8Array(target.buffer, target.byteOffset, target.byteLength));
  }
  /** Copies whole cells into the region: a byte copy (one scheduling point). */
  writeCells(cell: number, source: Int32Array): void {
    this.writeBytes(cell * 4, new Uint8Array(source.buffer, source.byteOffset, source.byteLength));
  }
  /** A copy of the bytes (one scheduling point): a later write cannot change it. */
  viewBytes(byteOffset: number, length: number): Uint8Array {
    this.#checkBytes(byteOffset, length);
    scheduler?.step(OP_VIEW_BYTES, this.#byteOffset + byteOffset);
    return heapBytes.slice(this.#byteOffset + byteOffset, this.#byteOffset + byteOffset + length);
  }

  #checkBytes(byteOffset: number, length: number): void {
    if (!(byteOffset >= 0 && length >= 0 && byteOffset + length <= this.byteLength)) {
      throw new RangeError(
        `Bytes [${byteOffset}, ${
          byteOffset + length
        }) are outside a checking memory of ${this.byteLength} bytes`,
      );
    }
  }
}

registerMemoryBackend("checking", (handle) => CheckingMemory.from(handle));
