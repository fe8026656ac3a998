/**
 * `SharedValue` and `SharedArray`: typed numbers in shared memory (Python's
 * `multiprocessing.Value` and `Array`), with atomic operations and an
 * optional lock for compound updates.
 *
 * Element types:
 * - `"int32"`, `"uint32"`: one 32-bit cell per element; `load`, `store`,
 *   `add`, `sub`, `exchange`, `compareExchange` are single atomic (sequentially
 *   consistent) operations, and values wrap like `Int32Array` / `Uint32Array`
 *   (`store(2 ** 31)` reads back `-2147483648` for `"int32"`).
 * - `"float64"`: eight bytes per element. The memory has no 64-bit atomics,
 *   so every operation takes the value's lock (always present for this type;
 *   a new `Mutex` unless one is given) for its duration: reads never
 *   see a torn value, and `add` / `compareExchange` are atomic with respect
 *   to every other operation on the same value.
 *
 * `v.store(v.load() + 1)` is two operations, not one, like Python's
 * `v.value += 1`: use `add`, or `withLock` around compound updates.
 *
 * Layout: the header, then the elements (`length` cells, or `length` 8-byte
 * slots for `"float64"`). Header params:
 * `[type code (1 int32, 2 uint32, 3 float64), length, shape (0 value, 1 array), has lock]`.
 * The lock is a separate primitive; its handle travels in this one's handle.
 *
 * @module
 */

import type { Memory, MemoryHandle } from "../shm/memory.ts";
import { attachMemory } from "../shm/attach.ts";
import type { AsyncWaitOptions, WaitOptions } from "../shm/timeout.ts";
import { type AnyLock, type AnyLockHandle, isLock, reviveLock } from "./_any_lock.ts";
import {
  checkHeader,
  createMemory,
  type CreateOptions,
  HEADER_BYTES,
  HEADER_CELLS,
  isMemory,
  readParam,
} from "./_header.ts";
import { LayoutError } from "./errors.ts";
import { Mutex } from "./mutex.ts";

const VERSION = 1;
const TYPE_CODES = { int32: 1, uint32: 2, float64: 3 } as const;
const SHAPE_VALUE = 0;
const SHAPE_ARRAY = 1;
/** Largest element count whose byte length still fits the header's 32-bit cell. */
const MAX_LENGTH = Math.floor((0x7fffffff - HEADER_BYTES) / 8);

/**
 * The element types of a {@linkcode SharedValue} or {@linkcode SharedArray}.
 *
 * @example
 * ```ts
 * import { SharedArray, SharedValue, type SharedValueType } from "@concur/shm";
 *
 * const type: SharedValueType = "float64";
 * const total = new SharedValue(type, 0.5);
 * const samples = new SharedArray(type, [1.5, 2.5]);
 * console.log(total.value + samples.load(1)); // 3
 * ```
 */
export type SharedValueType = "int32" | "uint32" | "float64";

/**
 * The structured-cloneable form of a {@linkcode SharedValue}.
 *
 * @example
 * ```ts
 * import { SharedValue, type SharedValueHandle } from "@concur/shm";
 *
 * const hits = new SharedValue("int32", 0, { lock: true });
 * const handle: SharedValueHandle = hits.handle; // postMessage(handle) to a worker
 * SharedValue.from(handle).add(1); // in the worker (its lock comes along)
 * console.log(hits.value, handle.lock?.kind); // 1 "Mutex"
 * ```
 */
export interface SharedValueHandle {
  /** Always `"SharedValue"`. */
  readonly kind: "SharedValue";
  /** Where the value lives. */
  readonly memory: MemoryHandle;
  /** The handle of its lock, if it has one. */
  readonly lock?: AnyLockHandle;
}

/**
 * The structured-cloneable form of a {@linkcode SharedArray}.
 *
 * @example
 * ```ts
 * import { SharedArray, type SharedArrayHandle } from "@concur/shm";
 *
 * const slots = new SharedArray("int32", 3);
 * const handle: SharedArrayHandle = slots.handle; // postMessage(handle) to a worker
 * SharedArray.from(handle).store(2, 7); // in the worker
 * console.log(slots.toArray()); // [ 0, 0, 7 ]
 * ```
 */
export interface SharedArrayHandle {
  /** Always `"SharedArray"`. */
  readonly kind: "SharedArray";
  /** Where the elements live. */
  readonly memory: MemoryHandle;
  /** The handle of its lock, if it has one. */
  readonly lock?: AnyLockHandle;
}

/**
 * Options of the {@linkcode SharedValue} and {@linkcode SharedArray} constructors.
 *
 * @example
 * ```ts
 * import { Mutex, SharedValue, type SharedValueOptions } from "@concur/shm";
 *
 * const lock = new Mutex();
 * const options: SharedValueOptions = { lock }; // one lock guarding two values
 * const debit = new SharedValue("int32", 10, options);
 * const credit = new SharedValue("int32", 0, options);
 * lock.withLock(() => {
 *   debit.sub(3);
 *   credit.add(3);
 * });
 * console.log(debit.value, credit.value, debit.getLock() === credit.getLock()); // 7 3 true
 * ```
 */
export interface SharedValueOptions extends CreateOptions {
  /**
   * `true`: create a new `Mutex` (Python's `lock=True`); a `Mutex` or
   * `RecursiveMutex`: use that one; `false` or absent: no lock (for
   * `"float64"`, absent means a new `Mutex`, and `false` is refused).
   * Operations never need the lock to be re-entrant: inside `withLock`,
   * `load`/`store` of a `"float64"` see that the calling thread holds it.
   */
  lock?: boolean | AnyLock;
}

/** The element operations shared by both classes (not exported). */
class Cells {
  readonly memory: Memory;
  readonly type: SharedValueType;
  readonly length: number;
  readonly lock: AnyLock | undefined;
  readonly #float: Float64Array | undefined;
  readonly #floatBytes: Uint8Array | undefined;
  readonly #unsigned: boolean;

  constructor(memory: Memory, type: SharedValueType, length: number, lock: AnyLock | undefined) {
    this.memory = memory;
    this.type = type;
    this.length = length;
    this.lock = lock;
    this.#unsigned = type === "uint32";
    if (type === "float64") {
      this.#float = new Float64Array(1);
      this.#floatBytes = new Uint8Array(this.#float.buffer);
    }
  }

  index(i: number): number {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) {
      throw new RangeError(`Index out of range: ${i} (length ${this.length})`);
    }
    return i;
  }

  #out(raw: number): number {
    return this.#unsigned ? raw >>> 0 : raw;
  }

  /** Runs `fn` holding the lock, unless the calling thread already holds it. */
  #locked<T>(fn: () => T): T {
    const lock = this.lock!;
    if (lock.heldByCurrentThread()) return fn();
    lock.lock();
    try {
      return fn();
    } finally {
      lock.unlock();
    }
  }

  #readFloat(i: number): number {
    this.memory.readBytes(HEADER_BYTES + i * 8, this.#floatBytes!);
    return this.#float![0];
  }

  #writeFloat(i: number, value: number): void {
    this.#float![0] = value;
    this.memory.writeBytes(HEADER_BYTES + i * 8, this.#floatBytes!);
  }

  load(i: number): number {
    if (this.#float) return this.#locked(() => this.#readFloat(i));
    return this.#out(this.memory.load(HEADER_CELLS + i));
  }

  store(i: number, value: number): void {
    if (this.#float) return this.#locked(() => this.#writeFloat(i, +value));
    this.memory.store(HEADER_CELLS + i, value | 0);
  }

  add(i: number, delta: number): number {
    if (this.#float) {
      return this.#locked(() => {
        const old = this.#readFloat(i);
        this.#writeFloat(i, old + delta);
        return old;
      });
    }
    return this.#out(this.memory.add(HEADER_CELLS + i, delta | 0));
  }

  exchange(i: number, value: number): number {
    if (this.#float) {
      return this.#locked(() => {
        const old = this.#readFloat(i);
        this.#writeFloat(i, +value);
        return old;
      });
    }
    return this.#out(this.memory.exchange(HEADER_CELLS + i, value | 0));
  }

  compareExchange(i: number, expected: number, replacement: number): number {
    if (this.#float) {
      return this.#locked(() => {
        const old = this.#readFloat(i);
        if (old === expected) this.#writeFloat(i, +replacement);
        return old;
      });
    }
    return this.#out(this.memory.compareExchange(HEADER_CELLS + i, expected | 0, replacement | 0));
  }

  requireLock(): AnyLock {
    if (this.lock === undefined) {
      throw new TypeError(
        `This shared ${this.type} was created without a lock: pass { lock: true } to have one`,
      );
    }
    return this.lock;
  }

  handleParts(): { memory: MemoryHandle; lock?: AnyLockHandle } {
    return this.lock === undefined
      ? { memory: this.memory.handle() }
      : { memory: this.memory.handle(), lock: this.lock.handle };
  }
}

function checkType(type: unknown): SharedValueType {
  if (type !== "int32" && type !== "uint32" && type !== "float64") {
    throw new TypeError(
      `Shared value type must be "int32", "uint32" or "float64": received ${String(type)}`,
    );
  }
  return type;
}

function makeLock(
  type: SharedValueType,
  options: SharedValueOptions | undefined,
): AnyLock | undefined {
  const option = options?.lock;
  // A lock this module creates lives where the value lives (same allocator).
  const allocate = options?.allocate;
  if (option === undefined) return type === "float64" ? new Mutex({ allocate }) : undefined;
  if (option === true) return new Mutex({ allocate });
  if (option === false) {
    if (type === "float64") {
      throw new TypeError('A "float64" shared value needs a lock: omit { lock: false }');
    }
    return undefined;
  }
  if (!isLock(option)) {
    throw new TypeError("lock must be a boolean, a Mutex or a RecursiveMutex");
  }
  return option;
}

function elementBytes(type: SharedValueType): number {
  return type === "float64" ? 8 : 4;
}

function createCells(
  type: SharedValueType,
  length: number,
  shape: number,
  options: SharedValueOptions | undefined,
): Cells {
  const lock = makeLock(type, options);
  const memory = createMemory(
    "SharedValue",
    VERSION,
    HEADER_BYTES + length * elementBytes(type),
    [TYPE_CODES[type], length, shape, lock === undefined ? 0 : 1],
    options?.allocate,
  );
  return new Cells(memory, type, length, lock);
}

function attachCells(
  handle: SharedValueHandle | SharedArrayHandle,
  kind: "SharedValue" | "SharedArray",
  shape: number,
): Cells {
  if (handle === null || typeof handle !== "object") {
    throw new LayoutError("not-shared", `Cannot revive ${kind}: expected a handle object`);
  }
  if (handle.kind !== kind) {
    throw new LayoutError(
      "wrong-kind",
      `Cannot revive ${kind}: the handle is of kind "${String(handle.kind)}"`,
    );
  }
  const memory = attachMemory(handle.memory);
  checkHeader(memory, "SharedValue", VERSION);
  const code = readParam(memory, 0);
  const length = readParam(memory, 1);
  const type = (Object.keys(TYPE_CODES) as SharedValueType[]).find((t) => TYPE_CODES[t] === code);
  const hasLock = readParam(memory, 3);
  if (readParam(memory, 2) !== shape) {
    throw new LayoutError(
      "wrong-kind",
      `Cannot revive ${kind}: the memory holds a ${
        shape === SHAPE_VALUE ? "SharedArray" : "SharedValue"
      }`,
    );
  }
  if (
    type === undefined || length < 0 || length > MAX_LENGTH ||
    memory.byteLength !== HEADER_BYTES + length * elementBytes(type) ||
    (hasLock !== 0 && hasLock !== 1) || (hasLock === 1) !== (handle.lock !== undefined) ||
    (type === "float64" && hasLock !== 1)
  ) {
    throw new LayoutError(
      "bad-parameters",
      `Cannot revive ${kind}: stored parameters [${code}, ${length}, ${shape}, ${hasLock}] do not match the memory or the handle`,
    );
  }
  const lock = handle.lock === undefined ? undefined : reviveLock(handle.lock, kind);
  return new Cells(memory, type, length, lock);
}

/** Cells over a memory whose header was already checked by {@linkcode attachCells}. */
function cellsOf(memory: Memory, lock: AnyLock | undefined): Cells {
  const code = readParam(memory, 0);
  const type = (Object.keys(TYPE_CODES) as SharedValueType[]).find((t) => TYPE_CODES[t] === code)!;
  return new Cells(memory, type, readParam(memory, 1), lock);
}

/**
 * One typed number in shared memory (Python's `Value`).
 *
 * @example A counter shared with workers
 * ```ts
 * import { SharedValue } from "@concur/shm";
 *
 * const hits = new SharedValue("int32", 0);
 * // post hits.handle; in a worker: SharedValue.from(handle).add(1);
 * hits.add(1);
 * hits.add(1);
 * console.log(hits.value); // 2
 * ```
 */
export class SharedValue {
  readonly #cells: Cells;

  /**
   * Creates a shared value.
   *
   * @param type `"int32"` (default), `"uint32"` or `"float64"`.
   * @param initial The initial value (default 0), converted like a typed array element.
   * @param options `lock` and where to allocate it.
   * @throws {TypeError} For an unknown type or lock.
   */
  constructor(type?: SharedValueType, initial?: number, options?: SharedValueOptions);
  /** @internal Wraps an already checked memory and its revived lock. */
  constructor(memory: Memory, lock: AnyLock | undefined);
  constructor(
    type: SharedValueType | Memory = "int32",
    initial: number | AnyLock | undefined = 0,
    options?: SharedValueOptions,
  ) {
    if (isMemory(type)) {
      this.#cells = cellsOf(type, initial as AnyLock | undefined);
      return;
    }
    initial = (initial ?? 0) as number;
    this.#cells = createCells(checkType(type), 1, SHAPE_VALUE, options);
    if (initial !== 0) this.#cells.store(0, initial);
  }

  /**
   * Revives a shared value (and its lock) from its handle.
   *
   * @example
   * ```ts
   * import { SharedValue } from "@concur/shm";
   *
   * const v = new SharedValue("int32", 7);
   * console.log(SharedValue.from(v.handle).value); // 7
   * ```
   *
   * @param handle The {@linkcode SharedValue.handle} of a shared value.
   * @returns A shared value on the same memory.
   * @throws {LayoutError} If the handle is not a valid shared value.
   */
  static from(handle: SharedValueHandle): SharedValue {
    const cells = attachCells(handle, "SharedValue", SHAPE_VALUE);
    return new SharedValue(cells.memory, cells.lock);
  }

  /**
   * Plain data to post to a worker; revive it with {@linkcode SharedValue.from}.
   *
   * @example
   * ```ts
   * import { SharedValue } from "@concur/shm";
   *
   * console.log(new SharedValue().handle.kind); // "SharedValue"
   * ```
   */
  get handle(): SharedValueHandle {
    return { kind: "SharedValue", ...this.#cells.handleParts() };
  }

  /**
   * The element type.
   *
   * @example
   * ```ts
   * import { SharedValue } from "@concur/shm";
   *
   * console.log(new SharedValue("float64").type); // "float64"
   * ```
   */
  get type(): SharedValueType {
    return this.#cells.type;
  }

  /**
   * The value (an atomic load); setting it is an atomic store.
   *
   * @example
   * ```ts
   * import { SharedValue } from "@concur/shm";
   *
   * const v = new SharedValue("int32");
   * v.value = 2 ** 31; // wraps like Int32Array
   * console.log(v.value); // -2147483648
   * ```
   */
  get value(): number {
    return this.#cells.load(0);
  }
  set value(value: number) {
    this.#cells.store(0, value);
  }

  /**
   * Reads the value atomically.
   *
   * @example
   * ```ts
   * import { SharedValue } from "@concur/shm";
   *
   * console.log(new SharedValue("uint32", -1).load()); // 4294967295
   * ```
   *
   * @returns The value.
   */
  load(): number {
    return this.#cells.load(0);
  }

  /**
   * Writes the value atomically.
   *
   * @example
   * ```ts
   * import { SharedValue } from "@concur/shm";
   *
   * const v = new SharedValue("float64");
   * v.store(1.5);
   * console.log(v.load()); // 1.5
   * ```
   *
   * @param value The new value.
   */
  store(value: number): void {
    this.#cells.store(0, value);
  }

  /**
   * Adds `delta` atomically.
   *
   * @example
   * ```ts
   * import { SharedValue } from "@concur/shm";
   *
   * const v = new SharedValue("int32", 1);
   * console.log(v.add(2), v.value); // 1 3
   * ```
   *
   * @param delta What to add.
   * @returns The value before.
   */
  add(delta: number): number {
    return this.#cells.add(0, delta);
  }

  /**
   * Subtracts `delta` atomically.
   *
   * @example
   * ```ts
   * import { SharedValue } from "@concur/shm";
   *
   * const v = new SharedValue("int32", 5);
   * console.log(v.sub(2), v.value); // 5 3
   * ```
   *
   * @param delta What to subtract.
   * @returns The value before.
   */
  sub(delta: number): number {
    return this.#cells.add(0, -delta);
  }

  /**
   * Replaces the value atomically.
   *
   * @example
   * ```ts
   * import { SharedValue } from "@concur/shm";
   *
   * const v = new SharedValue("int32", 1);
   * console.log(v.exchange(9), v.value); // 1 9
   * ```
   *
   * @param value The new value.
   * @returns The value before.
   */
  exchange(value: number): number {
    return this.#cells.exchange(0, value);
  }

  /**
   * Replaces the value by `replacement` if it equals `expected`, atomically.
   *
   * @example
   * ```ts
   * import { SharedValue } from "@concur/shm";
   *
   * const v = new SharedValue("int32", 1);
   * console.log(v.compareExchange(1, 2), v.compareExchange(1, 3), v.value); // 1 2 2
   * ```
   *
   * @param expected The value it must hold.
   * @param replacement The value to put.
   * @returns The value before (equal to `expected` exactly when it was replaced).
   */
  compareExchange(expected: number, replacement: number): number {
    return this.#cells.compareExchange(0, expected, replacement);
  }

  /**
   * The value's lock, if it has one (Python's `get_lock()`).
   *
   * @example
   * ```ts
   * import { SharedValue } from "@concur/shm";
   *
   * console.log(new SharedValue("int32", 0, { lock: true }).getLock() !== undefined); // true
   * console.log(new SharedValue("int32").getLock()); // undefined
   * ```
   */
  getLock(): AnyLock | undefined {
    return this.#cells.lock;
  }

  /**
   * Runs `fn` holding the value's lock (for compound updates).
   *
   * @example
   * ```ts
   * import { SharedValue } from "@concur/shm";
   *
   * const v = new SharedValue("int32", 3, { lock: true });
   * v.withLock(() => {
   *   v.value = v.value * 2; // read-modify-write, safe under the lock
   * });
   * console.log(v.value); // 6
   * ```
   *
   * @param fn The critical section.
   * @param options `timeout` in ms for taking the lock.
   * @returns What `fn` returned.
   * @throws {TypeError} If the value has no lock.
   * @throws {TimeoutError} If the lock could not be taken in time.
   */
  withLock<T>(fn: () => T, options?: WaitOptions): T {
    return this.#cells.requireLock().withLock(fn, options);
  }

  /**
   * Runs `fn` (sync or async) holding the value's lock, taken asynchronously.
   *
   * @example
   * ```ts
   * import { SharedValue } from "@concur/shm";
   *
   * const v = new SharedValue("int32", 3, { lock: true });
   * await v.withLockAsync(() => v.store(v.load() + 1));
   * console.log(v.value); // 4
   * ```
   *
   * @param fn The critical section.
   * @param options `timeout` in ms and an abort `signal` for taking the lock.
   * @returns What `fn` returned (awaited).
   * @throws {TypeError} If the value has no lock.
   */
  withLockAsync<T>(fn: () => T | Promise<T>, options?: AsyncWaitOptions): Promise<T> {
    return this.#cells.requireLock().withLockAsync(fn, options);
  }
}

/**
 * A fixed-length array of typed numbers in shared memory (Python's `Array`).
 *
 * @example Workers fill their own slots
 * ```ts
 * import { SharedArray } from "@concur/shm";
 *
 * const results = new SharedArray("int32", 4);
 * // post results.handle; worker k: SharedArray.from(handle).store(k, k * k);
 * results.store(3, 9);
 * console.log(results.toArray()); // [0, 0, 0, 9]
 * ```
 */
export class SharedArray {
  readonly #cells: Cells;

  /**
   * Creates a zero-filled shared array of `length` elements, or one holding
   * a copy of `values`.
   *
   * @param type `"int32"`, `"uint32"` or `"float64"`.
   * @param lengthOrValues The length (an integer `>= 0`), or the initial values.
   * @param options `lock` and where to allocate it.
   * @throws {RangeError} If the length is negative, not an integer or too large.
   * @throws {TypeError} For an unknown type or lock.
   */
  constructor(
    type: SharedValueType,
    lengthOrValues: number | ArrayLike<number>,
    options?: SharedValueOptions,
  );
  /** @internal Wraps an already checked memory and its revived lock. */
  constructor(memory: Memory, lock: AnyLock | undefined);
  constructor(
    type: SharedValueType | Memory,
    lengthOrValues?: number | ArrayLike<number> | AnyLock,
    options?: SharedValueOptions,
  ) {
    if (isMemory(type)) {
      this.#cells = cellsOf(type, lengthOrValues as AnyLock | undefined);
      return;
    }
    if (isLock(lengthOrValues)) throw new TypeError("SharedArray needs a length or values");
    checkType(type);
    const values = typeof lengthOrValues === "number" ? undefined : lengthOrValues;
    const length = values === undefined ? lengthOrValues : values?.length;
    if (
      typeof length !== "number" || !Number.isInteger(length) || length < 0 || length > MAX_LENGTH
    ) {
      throw new RangeError(
        `SharedArray length must be an integer in [0, ${MAX_LENGTH}]: received ${
          String(lengthOrValues)
        }`,
      );
    }
    this.#cells = createCells(type, length, SHAPE_ARRAY, options);
    if (values !== undefined) this.set(values);
  }

  /**
   * Revives a shared array (and its lock) from its handle.
   *
   * @example
   * ```ts
   * import { SharedArray } from "@concur/shm";
   *
   * const a = new SharedArray("int32", [1, 2, 3]);
   * console.log(SharedArray.from(a.handle).load(2)); // 3
   * ```
   *
   * @param handle The {@linkcode SharedArray.handle} of a shared array.
   * @returns A shared array on the same memory.
   * @throws {LayoutError} If the handle is not a valid shared array.
   */
  static from(handle: SharedArrayHandle): SharedArray {
    const cells = attachCells(handle, "SharedArray", SHAPE_ARRAY);
    return new SharedArray(cells.memory, cells.lock);
  }

  /**
   * Plain data to post to a worker; revive it with {@linkcode SharedArray.from}.
   *
   * @example
   * ```ts
   * import { SharedArray } from "@concur/shm";
   *
   * console.log(new SharedArray("int32", 2).handle.kind); // "SharedArray"
   * ```
   */
  get handle(): SharedArrayHandle {
    return { kind: "SharedArray", ...this.#cells.handleParts() };
  }

  /**
   * The element type.
   *
   * @example
   * ```ts
   * import { SharedArray } from "@concur/shm";
   *
   * console.log(new SharedArray("uint32", 2).type); // "uint32"
   * ```
   */
  get type(): SharedValueType {
    return this.#cells.type;
  }

  /**
   * The number of elements.
   *
   * @example
   * ```ts
   * import { SharedArray } from "@concur/shm";
   *
   * console.log(new SharedArray("int32", 5).length); // 5
   * ```
   */
  get length(): number {
    return this.#cells.length;
  }

  /**
   * Reads element `i` atomically.
   *
   * @example
   * ```ts
   * import { SharedArray } from "@concur/shm";
   *
   * console.log(new SharedArray("int32", [4, 5]).load(1)); // 5
   * ```
   *
   * @param i An index in `[0, length)`.
   * @returns The element.
   * @throws {RangeError} If `i` is out of range.
   */
  load(i: number): number {
    return this.#cells.load(this.#cells.index(i));
  }

  /**
   * Reads element `i`, counting from the end when `i` is negative.
   *
   * @example
   * ```ts
   * import { SharedArray } from "@concur/shm";
   *
   * console.log(new SharedArray("int32", [4, 5]).at(-1)); // 5
   * ```
   *
   * @param i An index in `[-length, length)`.
   * @returns The element.
   * @throws {RangeError} If `i` is out of range.
   */
  at(i: number): number {
    return this.load(i < 0 ? i + this.#cells.length : i);
  }

  /**
   * Writes element `i` atomically.
   *
   * @example
   * ```ts
   * import { SharedArray } from "@concur/shm";
   *
   * const a = new SharedArray("int32", 2);
   * a.store(0, 7);
   * console.log(a.load(0)); // 7
   * ```
   *
   * @param i An index in `[0, length)`.
   * @param value The new value.
   * @throws {RangeError} If `i` is out of range.
   */
  store(i: number, value: number): void {
    this.#cells.store(this.#cells.index(i), value);
  }

  /**
   * Adds `delta` to element `i` atomically.
   *
   * @example
   * ```ts
   * import { SharedArray } from "@concur/shm";
   *
   * const a = new SharedArray("int32", [1]);
   * console.log(a.add(0, 2), a.load(0)); // 1 3
   * ```
   *
   * @param i An index in `[0, length)`.
   * @param delta What to add.
   * @returns The element before.
   * @throws {RangeError} If `i` is out of range.
   */
  add(i: number, delta: number): number {
    return this.#cells.add(this.#cells.index(i), delta);
  }

  /**
   * Subtracts `delta` from element `i` atomically.
   *
   * @example
   * ```ts
   * import { SharedArray } from "@concur/shm";
   *
   * const a = new SharedArray("int32", [5]);
   * console.log(a.sub(0, 2), a.load(0)); // 5 3
   * ```
   *
   * @param i An index in `[0, length)`.
   * @param delta What to subtract.
   * @returns The element before.
   * @throws {RangeError} If `i` is out of range.
   */
  sub(i: number, delta: number): number {
    return this.#cells.add(this.#cells.index(i), -delta);
  }

  /**
   * Replaces element `i` atomically.
   *
   * @example
   * ```ts
   * import { SharedArray } from "@concur/shm";
   *
   * const a = new SharedArray("int32", [1]);
   * console.log(a.exchange(0, 8), a.load(0)); // 1 8
   * ```
   *
   * @param i An index in `[0, length)`.
   * @param value The new value.
   * @returns The element before.
   * @throws {RangeError} If `i` is out of range.
   */
  exchange(i: number, value: number): number {
    return this.#cells.exchange(this.#cells.index(i), value);
  }

  /**
   * Replaces element `i` by `replacement` if it equals `expected`, atomically.
   *
   * @example
   * ```ts
   * import { SharedArray } from "@concur/shm";
   *
   * const a = new SharedArray("int32", [1]);
   * console.log(a.compareExchange(0, 1, 2), a.load(0)); // 1 2
   * ```
   *
   * @param i An index in `[0, length)`.
   * @param expected The value it must hold.
   * @param replacement The value to put.
   * @returns The element before.
   * @throws {RangeError} If `i` is out of range.
   */
  compareExchange(i: number, expected: number, replacement: number): number {
    return this.#cells.compareExchange(this.#cells.index(i), expected, replacement);
  }

  /**
   * Writes `values` starting at `offset` (Python's slice assignment), each
   * element atomically (not the whole copy: use `withLock` for that).
   *
   * @example
   * ```ts
   * import { SharedArray } from "@concur/shm";
   *
   * const a = new SharedArray("int32", 4);
   * a.set([7, 8], 1);
   * console.log(a.toArray()); // [0, 7, 8, 0]
   * ```
   *
   * @param values The values to write.
   * @param offset The first index written (default 0).
   * @throws {RangeError} If the values do not fit at `offset`; nothing is written then.
   */
  set(values: ArrayLike<number>, offset: number = 0): void {
    const cells = this.#cells;
    if (
      !Number.isInteger(offset) || offset < 0 || offset + values.length > cells.length
    ) {
      throw new RangeError(
        `Cannot set ${values.length} values at offset ${offset}: the array has length ${cells.length}`,
      );
    }
    for (let i = 0; i < values.length; i++) cells.store(offset + i, values[i]);
  }

  /**
   * A copy of the elements `[start, end)` as a plain array (each read
   * atomically, not the whole copy).
   *
   * @example
   * ```ts
   * import { SharedArray } from "@concur/shm";
   *
   * const a = new SharedArray("int32", [1, 2, 3]);
   * console.log(a.toArray(), a.toArray(1)); // [1, 2, 3] [2, 3]
   * ```
   *
   * @param start First index (default 0; negative counts from the end).
   * @param end End index, exclusive (default: the length; negative counts from the end).
   * @returns The elements.
   */
  toArray(start: number = 0, end: number = this.#cells.length): number[] {
    const cells = this.#cells;
    const length = cells.length;
    const from = clamp(start, length);
    const to = clamp(end, length);
    const out: number[] = [];
    for (let i = from; i < to; i++) out.push(cells.load(i));
    return out;
  }

  /**
   * Iterates over the elements (each read atomically).
   *
   * @example
   * ```ts
   * import { SharedArray } from "@concur/shm";
   *
   * console.log([...new SharedArray("int32", [1, 2])]); // [1, 2]
   * ```
   */
  *[Symbol.iterator](): IterableIterator<number> {
    for (let i = 0; i < this.#cells.length; i++) yield this.#cells.load(i);
  }

  /**
   * The array's lock, if it has one (Python's `get_lock()`).
   *
   * @example
   * ```ts
   * import { SharedArray } from "@concur/shm";
   *
   * console.log(new SharedArray("int32", 1, { lock: true }).getLock() !== undefined); // true
   * ```
   */
  getLock(): AnyLock | undefined {
    return this.#cells.lock;
  }

  /**
   * Runs `fn` holding the array's lock (for compound updates).
   *
   * @example
   * ```ts
   * import { SharedArray } from "@concur/shm";
   *
   * const a = new SharedArray("int32", [1, 2], { lock: true });
   * a.withLock(() => a.set([a.load(1), a.load(0)])); // swap, atomically as a whole
   * console.log(a.toArray()); // [2, 1]
   * ```
   *
   * @param fn The critical section.
   * @param options `timeout` in ms for taking the lock.
   * @returns What `fn` returned.
   * @throws {TypeError} If the array has no lock.
   */
  withLock<T>(fn: () => T, options?: WaitOptions): T {
    return this.#cells.requireLock().withLock(fn, options);
  }

  /**
   * Runs `fn` (sync or async) holding the array's lock, taken asynchronously.
   *
   * @example
   * ```ts
   * import { SharedArray } from "@concur/shm";
   *
   * const a = new SharedArray("int32", 1, { lock: true });
   * await a.withLockAsync(() => a.store(0, a.load(0) + 1));
   * console.log(a.load(0)); // 1
   * ```
   *
   * @param fn The critical section.
   * @param options `timeout` in ms and an abort `signal` for taking the lock.
   * @returns What `fn` returned (awaited).
   * @throws {TypeError} If the array has no lock.
   */
  withLockAsync<T>(fn: () => T | Promise<T>, options?: AsyncWaitOptions): Promise<T> {
    return this.#cells.requireLock().withLockAsync(fn, options);
  }
}

function clamp(index: number, length: number): number {
  const i = Math.trunc(index) || 0;
  if (i < 0) return Math.max(0, length + i);
  return Math.min(i, length);
}
