/**
 * `MmapMemory`: a {@linkcode Memory} in a file mapped into every process that
 * opens it (Linux, `--allow-ffi`). The fast path between processes.
 *
 * Cell operations are `Atomics` calls on an `Int32Array` over the mapping:
 * V8's read-modify-write `Atomics` are the same lock-prefixed instructions on
 * a plain `ArrayBuffer` as on a `SharedArrayBuffer`, and the pages are shared
 * by the kernel, so they are atomic across processes. `Atomics.wait` refuses
 * non-shared buffers; waits are `futex(2)` calls on the cell's address
 * instead (shared futexes: the waiters are in other processes). Blocking
 * `wait` is a synchronous FFI call with a timeout; `waitAsync` runs the futex
 * wait on a pool thread in bounded slices, so cancellation and exit never
 * wait on it for long. Waiter counts in the file header let `notify` skip the
 * system call when nobody sleeps (see `_shared_file.ts`).
 *
 * A mapping is shared by every `MmapMemory` of the same file in a thread and
 * unmapped when the last one is closed. After {@linkcode MmapMemory.close},
 * views returned by `viewBytes` must not be used.
 *
 * @module
 */

import { copyCellsIn, copyCellsOut, loadPlainCell, storePlainCell } from "./_cell_copy.ts";
import { LayoutError } from "../primitives/errors.ts";
import { registerMemoryBackend } from "./attach.ts";
import {
  INTERRUPT_SLICE_MS,
  interruptSignal,
  isInterruptible,
  throwIfInterrupted,
} from "./interrupt.ts";
import { holdEventLoop } from "./keep_alive.ts";
import {
  EAGAIN,
  futexWait,
  futexWaitAsync,
  futexWake,
  futexWakeBitset,
  mapFile,
  type Mapping,
  mmapSupported,
  unmap,
} from "./_libc.ts";
import type { Memory, MemoryHandle, WaitResult } from "./memory.ts";
import {
  attachFileHandle,
  fileKey,
  fileSize,
  readSharedFile,
  REGION_OFFSET,
  RELABEL,
  WAIT_SLOTS,
  WAITERS_CELL,
} from "./_shared_file.ts";
import { Deadline } from "./timeout.ts";

/** The operations that touch the mapping (each throws once the memory is closed). */
const CELL_OPERATIONS = [
  "load",
  "loadPlain",
  "storePlain",
  "store",
  "add",
  "exchange",
  "compareExchange",
  "wait",
  "waitAsync",
  "notify",
  "readBytes",
  "writeBytes",
  "readCells",
  "writeCells",
  "viewBytes",
] as const;

/** Longest single futex wait on a pool thread, in ms (bounds cancellation and exit). */
const ASYNC_SLICE_MS = 200;

interface SharedMapping {
  readonly mapping: Mapping;
  readonly key: string;
  references: number;
}

/** Mappings of this thread, by file identity. */
const mappings = new Map<string, SharedMapping>();

/** Drops one user of a mapping (a memory, or a pending async wait); the last one unmaps it. */
function dropReference(shared: SharedMapping): void {
  if (--shared.references === 0) {
    mappings.delete(shared.key);
    unmap(shared.mapping);
  }
}

/** Wakes up to `count` waiters at `address` and takes them off their slot's count. */
function wakeAndCount(address: number, waiters: Int32Array, slot: number, count: number): number {
  const woken = futexWake(address, count);
  if (woken > 0) Atomics.sub(waiters, slot, woken);
  return woken;
}

/** The error of any use of a closed memory. */
function closedError(path: string): RangeError {
  return new RangeError(`Cannot use the mapped memory ${path}: it is closed`);
}

/**
 * A region of a memory-mapped shared file.
 *
 * @example Open a mapped memory two processes share
 * ```ts ignore
 * import { MmapMemory } from "@concur/shm";
 *
 * const memory = MmapMemory.open("/tmp/concur-my-object"); // created by openShared()
 * memory.add(0, 1);
 * memory.close();
 * ```
 */
export class MmapMemory implements Memory {
  /** Always `"mmap"`. */
  readonly backend: string = "mmap";
  /** Size of the region in bytes. */
  readonly byteLength: number;
  #path: string;
  #shared: SharedMapping | undefined;
  #cells: Int32Array;
  #bytes: Uint8Array;
  #waiters: Int32Array;
  readonly #address: number;

  private constructor(path: string, shared: SharedMapping, regionLength: number) {
    this.#path = path;
    this.#shared = shared;
    this.byteLength = regionLength;
    const buffer = shared.mapping.buffer;
    this.#cells = new Int32Array(buffer, REGION_OFFSET, regionLength / 4);
    this.#bytes = new Uint8Array(buffer, REGION_OFFSET, regionLength);
    this.#waiters = new Int32Array(buffer, WAITERS_CELL * 4, WAIT_SLOTS);
    this.#address = shared.mapping.address + REGION_OFFSET;
  }

  /** Whether this thread can map memories (Linux and FFI permission granted). */
  static get supported(): boolean {
    return mmapSupported();
  }

  /**
   * Maps the region of the shared file at `path` (created for this backend).
   *
   * @param path The file.
   * @param handlePath The path handles should name (defaults to `path`; differs
   * while a file is being created under a temporary name).
   * @returns The memory.
   * @throws {LayoutError} If the file is not a shared object file, or was created for the file-backed memory.
   */
  static open(path: string, handlePath: string = path): MmapMemory {
    const info = readSharedFile(path);
    if (info.mode !== "mmap") {
      throw new LayoutError(
        "wrong-kind",
        `Cannot map ${path}: it was created for the file-backed memory (open it with the "file" backend)`,
      );
    }
    const key = fileKey(path);
    let shared = mappings.get(key);
    if (shared === undefined) {
      shared = { mapping: mapFile(path, fileSize(info.regionLength)), key, references: 0 };
      mappings.set(key, shared);
    }
    shared.references++;
    return new MmapMemory(handlePath, shared, info.regionLength);
  }

  /**
   * Attaches to the region a handle describes.
   *
   * @param handle A handle from {@linkcode MmapMemory.handle}.
   * @returns The memory.
   * @throws {LayoutError} If the handle is not an `"mmap"` handle or does not match its file.
   */
  static from(handle: MemoryHandle): MmapMemory {
    return attachFileHandle(handle, "mmap", (path) => MmapMemory.open(path));
  }

  /** The file and region, as plain data (JSON-serialisable). */
  handle(): MemoryHandle {
    return {
      backend: "mmap",
      path: this.path,
      byteOffset: REGION_OFFSET,
      byteLength: this.byteLength,
    };
  }

  /** The file that holds the region (as handles name it). */
  get path(): string {
    return this.#path;
  }

  /** @internal Names another path in handles (a file created under a temporary name). */
  [RELABEL](path: string): void {
    this.#path = path;
  }

  /** Whether {@linkcode MmapMemory.close} was called. */
  get closed(): boolean {
    return this.#shared === undefined;
  }

  /**
   * Drops this memory's use of the mapping (unmapped with the last user in
   * this thread). Later operations throw a `RangeError`; views from
   * `viewBytes` must not be used any more.
   */
  close(): void {
    const shared = this.#shared;
    if (shared === undefined) return;
    this.#shared = undefined;
    // Empty views: any later access is out of range instead of a dangling read.
    this.#cells = new Int32Array(0);
    this.#bytes = new Uint8Array(0);
    this.#waiters = new Int32Array(WAIT_SLOTS);
    // And every operation says why (as the file-backed memory does), instead
    // of the engine's "invalid atomic access index"; own properties shadow
    // the methods only now, so the open memory's calls stay as they were.
    const path = this.path;
    const closed = (): never => {
      throw closedError(path);
    };
    for (const operation of CELL_OPERATIONS) {
      Object.defineProperty(this, operation, { value: closed, configurable: true });
    }
    dropReference(shared);
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

  /** Blocks while the cell holds `expected` (see {@linkcode Memory.wait}). */
  wait(cell: number, expected: number, timeoutMs: number = Infinity): WaitResult {
    this.#check(cell);
    const slot = cell % WAIT_SLOTS;
    // Count ourselves before re-checking the cell: a notifier that changed the
    // cell after our check sees the count and makes the system call.
    Atomics.add(this.#waiters, slot, 1);
    let woken = false;
    try {
      const deadline = new Deadline(timeoutMs);
      for (;;) {
        if (Atomics.load(this.#cells, cell) !== expected) return "not-equal";
        const remaining = deadline.remaining();
        if (remaining === 0) return "timed-out";
        // In a thread started by this module's worker handles the sleep is
        // sliced so that a terminate request ends it (see shm/interrupt.ts).
        throwIfInterrupted();
        const slice = isInterruptible() ? Math.min(remaining, INTERRUPT_SLICE_MS) : remaining;
        const outcome = futexWait(this.#address + cell * 4, expected, slice);
        if (outcome === 0) {
          woken = true; // the waker took us off the count
          throwIfInterrupted();
          return "ok";
        }
        if (outcome === EAGAIN) return "not-equal";
        // A timed-out slice, or EINTR (a signal): wait again for what is left.
      }
    } finally {
      if (!woken) Atomics.sub(this.#waiters, slot, 1);
    }
  }

  /** Waits without blocking the thread (see {@linkcode Memory.waitAsync}). */
  async waitAsync(
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
    signal?.throwIfAborted();
    this.#check(cell);
    if (Atomics.load(this.#cells, cell) !== expected) return "not-equal";
    const slot = cell % WAIT_SLOTS;
    const address = this.#address + cell * 4;
    // A bit of our own, so an abort can wake this wait (and few others).
    const bitset = 1 << Math.floor(Math.random() * 32);
    const waiters = this.#waiters;
    const cells = this.#cells;
    // The wait keeps the mapping: closing the memory meanwhile must not unmap
    // the pages this wait still reads (and a pool thread sleeps on).
    const shared = this.#shared!;
    shared.references++;
    const path = this.path;
    const release = holdEventLoop();
    Atomics.add(waiters, slot, 1);
    let woken = -1; // 0 once a wake-up took us off the count
    const onAbort = () => Atomics.sub(waiters, slot, futexWakeBitset(address, bitset));
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const deadline = new Deadline(timeoutMs);
      for (;;) {
        if (Atomics.load(cells, cell) !== expected) return "not-equal";
        const remaining = deadline.remaining();
        if (remaining === 0) return "timed-out";
        woken = await futexWaitAsync(
          address,
          expected,
          Math.min(remaining, ASYNC_SLICE_MS),
          bitset,
        );
        if (signal?.aborted) {
          // We may have consumed a real notify together with our own abort
          // wake-up: pass one on, so no live waiter loses its wake-up.
          if (woken === 0) wakeAndCount(address, waiters, slot, 1);
          throw signal.reason;
        }
        if (woken === 0) return "ok";
        if (this.#shared === undefined) throw closedError(path);
      }
    } finally {
      signal?.removeEventListener("abort", onAbort);
      if (woken !== 0) Atomics.sub(waiters, slot, 1);
      dropReference(shared);
      release();
    }
  }

  /**
   * Wakes up to `count` waiters on a cell. No system call when nobody waits
   * on the cell's slot, nor when every waiter there has been woken already
   * and has not run yet (see `#wake`).
   */
  notify(cell: number, count: number = Infinity): number {
    const slot = cell % WAIT_SLOTS;
    if (Atomics.load(this.#waiters, slot) === 0) return 0;
    return this.#wake(this.#address + cell * 4, slot, count);
  }

  /**
   * Wakes and takes the woken off the slot's count. The count is "waiters not
   * yet woken": a waiter adds itself before it sleeps and removes itself only
   * when it leaves without a wake-up (timeout, changed cell); a wake-up's
   * waker removes exactly the number the kernel woke. So repeated notifies
   * while a woken consumer is still being scheduled (tens of µs on a VM) cost
   * no system call. Errors only ever leave the count too high (a process
   * killed while waiting, or between its wake and its subtraction), which
   * costs a system call per notify, never a lost wake-up; a count that is not
   * 0 (even negative) always makes the call.
   */
  #wake(address: number, slot: number, count: number): number {
    return wakeAndCount(address, this.#waiters, slot, count);
  }

  /** Copies bytes out of the region. */
  readBytes(byteOffset: number, target: Uint8Array): void {
    target.set(this.#bytes.subarray(byteOffset, byteOffset + target.length));
  }
  /** Copies bytes into the region. */
  writeBytes(byteOffset: number, source: Uint8Array): void {
    this.#bytes.set(source, byteOffset);
  }
  /** Copies whole cells out of the region. */
  readCells(cell: number, target: Int32Array): void {
    copyCellsOut(this.#cells, cell, target);
  }
  /** Copies whole cells into the region. */
  writeCells(cell: number, source: Int32Array): void {
    copyCellsIn(this.#cells, cell, source);
  }
  /** A live view of the bytes (valid until they are written again, or the memory is closed). */
  viewBytes(byteOffset: number, length: number): Uint8Array {
    return this.#bytes.subarray(byteOffset, byteOffset + length);
  }

  #check(cell: number): void {
    if (!(cell >= 0 && cell < this.#cells.length)) {
      throw new RangeError(
        `Cannot wait: cell ${cell} is outside the memory${this.closed ? " (it is closed)" : ""}`,
      );
    }
  }
}

registerMemoryBackend("mmap", (handle) => MmapMemory.from(handle));
