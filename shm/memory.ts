/**
 * The one abstraction every primitive is written against.
 *
 * A `Memory` is a fixed-size region made of 32-bit cells (addressed by cell
 * index, `byteOffset / 4`) and the same bytes seen as a byte area. Primitives
 * never touch a `SharedArrayBuffer`, a file or a syscall directly: they ask
 * their memory to load, store, exchange and add cells, to copy bytes, and to
 * wait on a cell or wake its waiters. Threads and processes differ only in the
 * memory underneath (`SabMemory` for workers; file-backed and memory-mapped
 * memories for processes; a checking memory for schedule exploration).
 *
 * Memory model: every cell operation is sequentially consistent (as all of
 * JavaScript's `Atomics` are). Byte copies are plain (unordered) accesses;
 * an algorithm publishes bytes by writing them first and then storing a cell
 * that the reader loads before it reads the bytes.
 *
 * @module
 */

/**
 * Outcome of a wait on a cell, the same words as `Atomics.wait`.
 *
 * @example
 * ```ts
 * import { SabMemory, type WaitResult } from "@concur/shm";
 *
 * const memory = new SabMemory(4);
 * const result: WaitResult = memory.wait(0, 1, 10); // the cell holds 0, not 1
 * console.log(result); // "not-equal"
 * ```
 */
export type WaitResult = "ok" | "not-equal" | "timed-out";

/**
 * How to find a memory again from another thread or process. It is plain,
 * structured-cloneable data: it can be posted to a worker or written as JSON
 * (for memories that live in a file).
 *
 * @example
 * ```ts
 * import { type MemoryHandle, SabMemory } from "@concur/shm";
 *
 * const memory = new SabMemory(8);
 * const handle: MemoryHandle = memory.handle(); // worker.postMessage(handle)
 * SabMemory.from(handle).store(1, 5); // in the worker
 * console.log(handle.backend, memory.load(1)); // "sab" 5
 * ```
 */
export interface MemoryHandle {
  /** Which backend made this memory (`"sab"`, `"mmap"`, `"file"`...). */
  readonly backend: string;
  /** The shared buffer, for memories that live in one. */
  readonly buffer?: SharedArrayBuffer;
  /** The file that holds the memory, for memories that live in one. */
  readonly path?: string;
  /** Where the region starts inside its buffer or file, in bytes. */
  readonly byteOffset: number;
  /** The size of the region, in bytes. */
  readonly byteLength: number;
  /**
   * The liveness table of the program that made the handle, so that a
   * thread not started by this module learns when a worker that was dies
   * (shared-buffer memories only; see `shm/liveness.ts`).
   */
  readonly liveness?: SharedArrayBuffer;
}

/**
 * A region of shared 32-bit cells and bytes with futex-style wait and notify.
 *
 * @example Using a memory directly
 * ```ts
 * import { SabMemory } from "@concur/shm";
 *
 * const memory = new SabMemory(16);
 * memory.store(0, 41);
 * memory.add(0, 1);
 * console.log(memory.load(0)); // 42
 * ```
 */
export interface Memory {
  /** Which backend this memory is (`"sab"`, `"mmap"`, `"file"`, `"checking"`). */
  readonly backend: string;
  /** Size of the region in bytes (a multiple of 4). */
  readonly byteLength: number;

  /** Atomically reads cell `cell`. */
  load(cell: number): number;
  /** Atomically writes `value` to cell `cell`. */
  store(cell: number, value: number): void;
  /**
   * Reads cell `cell` without ordering: an unordered access like
   * {@linkcode Memory.readBytes} (about 10x cheaper than `load` on a shared
   * buffer, where V8 calls a builtin for every `Atomics` operation). Only for
   * a cell whose value the caller is ordered after anyway: one it wrote
   * itself, or one published by a store the caller has already loaded (a
   * frame header behind a ring's tail index). Never torn.
   */
  loadPlain(cell: number): number;
  /**
   * Writes cell `cell` without ordering (see {@linkcode Memory.loadPlain}):
   * only for a cell that a later `store` publishes, or that no other thread
   * reads.
   */
  storePlain(cell: number, value: number): void;
  /** Atomically adds `delta` to cell `cell` (wrapping at 32 bits); returns the old value. */
  add(cell: number, delta: number): number;
  /** Atomically replaces cell `cell` by `value`; returns the old value. */
  exchange(cell: number, value: number): number;
  /**
   * Atomically replaces cell `cell` by `replacement` if it holds `expected`;
   * returns the value it held (equal to `expected` exactly when it succeeded).
   */
  compareExchange(cell: number, expected: number, replacement: number): number;

  /**
   * Blocks the calling thread while cell `cell` holds `expected`, until a
   * `notify` on that cell or `timeoutMs` (default: forever) elapses. May wake
   * spuriously: callers always re-check their condition.
   */
  wait(cell: number, expected: number, timeoutMs?: number): WaitResult;
  /**
   * The same as {@linkcode Memory.wait} without blocking the thread. The
   * pending wait keeps the event loop alive. If `signal` aborts, the promise
   * rejects with `signal.reason` and a wake-up it might have consumed is
   * passed on to another waiter, so a cancelled waiter never steals one.
   */
  waitAsync(
    cell: number,
    expected: number,
    timeoutMs?: number,
    signal?: AbortSignal,
  ): Promise<WaitResult>;
  /** Wakes up to `count` (default: all) waiters on cell `cell`; returns how many woke. */
  notify(cell: number, count?: number): number;

  /** Copies `target.length` bytes starting at `byteOffset` into `target`. */
  readBytes(byteOffset: number, target: Uint8Array): void;
  /** Copies `source` into the region starting at `byteOffset`. */
  writeBytes(byteOffset: number, source: Uint8Array): void;
  /**
   * The bytes `[byteOffset, byteOffset + length)` for reading only. On
   * memories that can be addressed directly this is a live view (valid until
   * the range is written again); elsewhere it is a copy.
   */
  viewBytes(byteOffset: number, length: number): Uint8Array;
  /**
   * Copies `target.length` whole cells starting at cell `cell` into
   * `target`. Plain (unordered) accesses like {@linkcode Memory.readBytes};
   * the same bytes, but without the byte copy's alignment and view costs
   * where the memory can address its cells directly (runs of numbers).
   */
  readCells(cell: number, target: Int32Array): void;
  /** Copies `source` into the cells starting at cell `cell` (plain accesses, see {@linkcode Memory.readCells}). */
  writeCells(cell: number, source: Int32Array): void;

  /** A plain handle to attach to the same region elsewhere. */
  handle(): MemoryHandle;

  /**
   * Optional: runs `fn`, which must not wait, as one indivisible step, and
   * returns its result. Algorithms wrap a non-waiting step (one `tryPut`, a
   * run of `getMany`) in it when it is present, and call `fn` directly when
   * it is absent (so memories without it pay nothing).
   *
   * Why batching never changes an algorithm's meaning: a batch only makes
   * steps coarser. Every algorithm here is correct under any interleaving of
   * its single cell operations; running several of them back to back with
   * nobody else in between is one of those interleavings. So a memory whose
   * operations are already atomic one by one (`SabMemory`, `MmapMemory`, the
   * checking memory) has nothing to gain and leaves `batch` out: without it,
   * `fn` runs as it is, which is exactly what a batch would mean there.
   *
   * Why it is safe where it exists (`FileMemory`): the batch holds the
   * file's exclusive lock for the whole step, so other processes see all of
   * its changes or none (it is written back whole; a kill mid-write-back is
   * repaired from a journal by the next locker). If `fn` does wait (an
   * algorithm backing off from a half-done peer), the memory splits the
   * batch at the wait: write back, unlock, wait, lock again, which is again
   * an interleaving of single operations, so still correct.
   */
  batch?<T>(fn: () => T): T;

  /**
   * Optional: `false` when every cell operation is a system call (a lock, a
   * read and a write of a file), so that spinning on loads before sleeping
   * costs more than it can save; algorithms then go to sleep at once.
   * Absent means `true` (loads are memory reads: spin briefly, then sleep).
   */
  readonly spinWorthwhile?: boolean;
}
