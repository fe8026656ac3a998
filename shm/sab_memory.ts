/**
 * `SabMemory`: a {@linkcode Memory} in a `SharedArrayBuffer`, shared between
 * the threads (main and workers) of one process.
 *
 * Cell operations are `Atomics` calls on an `Int32Array` over the region;
 * waits are `Atomics.wait` / `Atomics.waitAsync`. The class is small on
 * purpose: V8 inlines these one-line methods at monomorphic call sites, which
 * keeps the abstraction at the cost of bare `Atomics` (see bench/locks.bench.ts).
 *
 * @module
 */

import {
  copyCellsIn,
  copyCellsOut,
  loadPlainCell,
  readSharedBytes,
  storePlainCell,
  writeSharedBytes,
} from "./_cell_copy.ts";
import { LayoutError } from "../primitives/errors.ts";
import {
  INTERRUPT_SLICE_MS,
  interruptSignal,
  isInterruptible,
  throwIfInterrupted,
} from "./interrupt.ts";
import { adoptLivenessBuffer, handleLivenessBuffer } from "./_liveness_buffer.ts";
import { holdEventLoop } from "./keep_alive.ts";
import type { Memory, MemoryHandle, WaitResult } from "./memory.ts";

/**
 * A memory region inside a `SharedArrayBuffer`.
 *
 * @example Share a memory with a worker
 * ```ts
 * import { SabMemory } from "@concur/shm";
 *
 * const memory = new SabMemory(64);
 * const handle = memory.handle(); // post this to a worker...
 * const there = SabMemory.from(handle); // ...and attach it there
 * there.store(0, 7);
 * console.log(memory.load(0)); // 7
 * ```
 */
export class SabMemory implements Memory {
  /** Always `"sab"`. */
  readonly backend: string = "sab";
  /** Size of the region in bytes. */
  readonly byteLength: number;
  readonly #buffer: SharedArrayBuffer;
  readonly #byteOffset: number;
  readonly #cells: Int32Array;
  readonly #bytes: Uint8Array;

  /**
   * Allocates a fresh zero-filled region of `byteLength` bytes, or (given a
   * buffer) attaches to `[byteOffset, byteOffset + byteLength)` of it.
   *
   * @param byteLengthOrBuffer The size to allocate, or an existing shared buffer.
   * @param byteOffset Start of the region in the buffer (a multiple of 4).
   * @param byteLength Size of the region (a multiple of 4); defaults to the rest of the buffer.
   * @throws {LayoutError} If the buffer is not a `SharedArrayBuffer`, or the region is misaligned or out of range.
   */
  constructor(
    byteLengthOrBuffer: number | SharedArrayBuffer,
    byteOffset: number = 0,
    byteLength?: number,
  ) {
    let buffer: SharedArrayBuffer;
    if (typeof byteLengthOrBuffer === "number") {
      if (!Number.isSafeInteger(byteLengthOrBuffer) || byteLengthOrBuffer < 4) {
        throw new RangeError(
          `Cannot allocate memory: byteLength must be an integer >= 4: received ${byteLengthOrBuffer}`,
        );
      }
      buffer = new SharedArrayBuffer(alignUp(byteLengthOrBuffer));
      byteOffset = 0;
      byteLength = buffer.byteLength;
    } else {
      if (!(byteLengthOrBuffer instanceof SharedArrayBuffer)) {
        throw new LayoutError(
          "not-shared",
          `Cannot attach memory: expected a SharedArrayBuffer, received ${
            describe(byteLengthOrBuffer)
          }`,
        );
      }
      buffer = byteLengthOrBuffer;
      byteLength ??= buffer.byteLength - byteOffset;
    }
    if (
      !Number.isSafeInteger(byteOffset) || !Number.isSafeInteger(byteLength) ||
      byteOffset % 4 !== 0 || byteLength % 4 !== 0
    ) {
      throw new LayoutError(
        "misaligned",
        `Cannot attach memory: offset ${byteOffset} and length ${byteLength} must be multiples of 4`,
      );
    }
    if (byteOffset < 0 || byteLength < 4 || byteOffset + byteLength > buffer.byteLength) {
      throw new LayoutError(
        "too-small",
        `Cannot attach memory: region [${byteOffset}, ${
          byteOffset + byteLength
        }) does not fit a buffer of ${buffer.byteLength} bytes`,
      );
    }
    this.#buffer = buffer;
    this.#byteOffset = byteOffset;
    this.byteLength = byteLength;
    this.#cells = new Int32Array(buffer, byteOffset, byteLength / 4);
    this.#bytes = new Uint8Array(buffer, byteOffset, byteLength);
  }

  /**
   * Attaches to the region a handle describes.
   *
   * @param handle A handle from {@linkcode SabMemory.handle}.
   * @returns The memory.
   * @throws {LayoutError} If the handle does not describe a shared buffer region.
   */
  static from(handle: MemoryHandle): SabMemory {
    if (handle === null || typeof handle !== "object" || handle.backend !== "sab") {
      throw new LayoutError(
        "not-shared",
        `Cannot attach memory: expected a "sab" handle, received ${
          describe(handle?.backend ?? handle)
        }`,
      );
    }
    const memory = new SabMemory(
      handle.buffer as SharedArrayBuffer,
      handle.byteOffset,
      handle.byteLength,
    );
    adoptLivenessBuffer(handle.liveness);
    return memory;
  }

  /**
   * The shared buffer and region, as plain data (with this program's
   * liveness table, see `_liveness_buffer.ts`).
   */
  handle(): MemoryHandle {
    const handle = {
      backend: "sab",
      buffer: this.#buffer,
      byteOffset: this.#byteOffset,
      byteLength: this.byteLength,
    };
    const liveness = handleLivenessBuffer();
    return liveness === undefined ? handle : { ...handle, liveness };
  }

  /** Atomically reads a cell. */
  load(cell: number): number {
    return Atomics.load(this.#cells, cell);
  }
  /** Reads a cell without ordering (see {@linkcode Memory.loadPlain}). */
  loadPlain(cell: number): number {
    return loadPlainCell(this.#cells, cell);
  }
  /** Writes a cell without ordering (see {@linkcode Memory.storePlain}). */
  storePlain(cell: number, value: number): void {
    storePlainCell(this.#cells, cell, value);
  }
  /** Atomically writes a cell. */
  store(cell: number, value: number): void {
    Atomics.store(this.#cells, cell, value);
  }
  /** Atomically adds to a cell; returns the old value. */
  add(cell: number, delta: number): number {
    return Atomics.add(this.#cells, cell, delta);
  }
  /** Atomically swaps a cell; returns the old value. */
  exchange(cell: number, value: number): number {
    return Atomics.exchange(this.#cells, cell, value);
  }
  /** Atomic compare-and-swap; returns the value the cell held. */
  compareExchange(cell: number, expected: number, replacement: number): number {
    return Atomics.compareExchange(this.#cells, cell, expected, replacement);
  }

  /**
   * Blocks while the cell holds `expected` (see {@linkcode Memory.wait}).
   *
   * In a thread started by this module's worker handles the wait is sliced
   * (see `shm/interrupt.ts`): it throws `TerminatedError` within
   * `INTERRUPT_SLICE_MS` of a terminate request. Slicing loses no wake-up
   * as long as the notifier follows the futex protocol — change the cell,
   * then notify — which every primitive of this module does: a notify that
   * falls between two slices finds the cell changed, so the next slice
   * returns `"not-equal"` at once. (A bare notify on an unchanged cell can
   * be missed by a sliced waiter.)
   */
  wait(cell: number, expected: number, timeoutMs: number = Infinity): WaitResult {
    if (!isInterruptible()) return Atomics.wait(this.#cells, cell, expected, timeoutMs);
    // Atomics.wait's rules: NaN waits forever, a negative timeout polls.
    const ms = Number.isNaN(timeoutMs) ? Infinity : Math.max(0, timeoutMs);
    const end = ms === Infinity ? Infinity : performance.now() + ms;
    for (;;) {
      throwIfInterrupted();
      const left = end === Infinity ? Infinity : Math.max(0, end - performance.now());
      const result = Atomics.wait(this.#cells, cell, expected, Math.min(left, INTERRUPT_SLICE_MS));
      if (result !== "timed-out" || left <= INTERRUPT_SLICE_MS) {
        throwIfInterrupted();
        return result;
      }
    }
  }

  /** Waits without blocking the thread (see {@linkcode Memory.waitAsync}). */
  waitAsync(
    cell: number,
    expected: number,
    timeoutMs: number = Infinity,
    signal?: AbortSignal,
  ): Promise<WaitResult> {
    // In an interruptible thread the wait also ends on a terminate request.
    const interrupt = interruptSignal();
    if (interrupt !== undefined && interrupt !== signal) {
      signal = signal === undefined ? interrupt : AbortSignal.any([signal, interrupt]);
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    const started = Atomics.waitAsync(this.#cells, cell, expected, timeoutMs);
    if (!started.async) return Promise.resolve(started.value);
    const release = holdEventLoop();
    if (signal === undefined) {
      return started.value.finally(release);
    }
    const cells = this.#cells;
    return new Promise<WaitResult>((resolve, reject) => {
      let abandoned = false;
      const onAbort = () => {
        abandoned = true;
        // The engine cannot cancel a waitAsync: the abandoned waiter stays in
        // the cell's queue and would take the next notify(1) meant for a live
        // waiter, passing it on (below) only when this thread's event loop
        // runs again, which a thread blocked in synchronous work may not do
        // for seconds. Waking every waiter of the cell now takes it out of
        // the queue while this thread runs; the others see a spurious
        // wake-up, which every caller handles (they re-check and wait again).
        Atomics.notify(cells, cell);
        release(); // the abandoned wait must not keep the program alive
        reject(signal.reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      started.value.then((result) => {
        if (abandoned) {
          // A notify it consumed before the abort is passed on, so no live
          // waiter loses its wake-up.
          if (result === "ok") Atomics.notify(cells, cell, 1);
          return;
        }
        signal.removeEventListener("abort", onAbort);
        release();
        resolve(result);
      });
    });
  }

  /** Wakes up to `count` waiters on a cell. */
  notify(cell: number, count: number = Infinity): number {
    return Atomics.notify(this.#cells, cell, count);
  }

  /** Copies bytes out of the region. */
  readBytes(byteOffset: number, target: Uint8Array): void {
    readSharedBytes(this.#bytes, byteOffset, target);
  }
  /** Copies bytes into the region. */
  writeBytes(byteOffset: number, source: Uint8Array): void {
    writeSharedBytes(this.#bytes, byteOffset, source);
  }
  /** Copies whole cells out of the region. */
  readCells(cell: number, target: Int32Array): void {
    copyCellsOut(this.#cells, cell, target);
  }
  /** Copies whole cells into the region. */
  writeCells(cell: number, source: Int32Array): void {
    copyCellsIn(this.#cells, cell, source);
  }
  /** A live view of the bytes (valid until they are written again). */
  viewBytes(byteOffset: number, length: number): Uint8Array {
    return this.#bytes.subarray(byteOffset, byteOffset + length);
  }
}

function alignUp(n: number): number {
  return (n + 3) & ~3;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object") return (value as object).constructor?.name ?? "object";
  return typeof value === "string" ? `"${value}"` : String(value);
}
