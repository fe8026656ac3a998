/**
 * The few libc calls the memory-mapped backend needs, through Deno's FFI:
 * `open`/`close`, `mmap`/`munmap`, `clock_gettime`, and the `futex` system
 * call (blocking, and on a pool thread for async waits).
 *
 * Loaded lazily, once per thread (FFI libraries cannot cross workers), and
 * only on Linux with `--allow-ffi`: {@linkcode mmapSupported} says whether
 * this thread can use it without throwing.
 *
 * Futexes here are shared (no `FUTEX_PRIVATE_FLAG`): the words live in a
 * `MAP_SHARED` file mapping and the waiters are in other processes.
 *
 * @module
 */

/** `futex(2)` operations and flags used here. */
export const FUTEX_WAIT = 0;
/** Wakes up to `val` waiters. */
export const FUTEX_WAKE = 1;
/** Wait with a bitset and an absolute CLOCK_MONOTONIC timeout. */
export const FUTEX_WAIT_BITSET = 9;
/** Wakes waiters whose bitset intersects `val3`. */
export const FUTEX_WAKE_BITSET = 10;

/** errno values the futex callers distinguish. */
export const EINTR = 4;
/** The futex word did not hold the expected value. */
export const EAGAIN = 11;
/** The timeout expired. */
export const ETIMEDOUT = 110;

const O_RDWR = 2;
const PROT_READ_WRITE = 3;
const MAP_SHARED = 1;
const CLOCK_MONOTONIC = 1;

const SYMBOLS = {
  open: { parameters: ["buffer", "i32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
  clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
  // long syscall(long nr, uaddr, op, val, timeout, uaddr2, val3)
  syscall: {
    parameters: ["isize", "usize", "isize", "isize", "buffer", "usize", "isize"],
    result: "isize",
  },
  syscall_async: {
    name: "syscall",
    parameters: ["isize", "usize", "isize", "isize", "buffer", "usize", "isize"],
    result: "isize",
    nonblocking: true,
  },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** The futex call as the FFI accepts it at run time (numbers for 64-bit integers). */
type FutexCall<R> = (
  nr: number,
  address: number,
  op: number,
  value: number,
  timeout: Uint8Array | null,
  address2: number,
  value3: number,
) => R;

function syscall(): FutexCall<number | bigint> {
  return lib().syscall as unknown as FutexCall<number | bigint>;
}

function syscallAsync(): FutexCall<Promise<number | bigint>> {
  return lib().syscall_async as unknown as FutexCall<Promise<number | bigint>>;
}

let libc: Libc | undefined;
let errnoView: Deno.UnsafePointerView | undefined;
let supported: boolean | undefined;

/** The futex system call number of this architecture. */
const SYS_FUTEX = Deno.build.arch === "aarch64" ? 98 : 202;

/**
 * Whether this thread may map files and use futexes: Linux, and FFI
 * permission already granted (never prompts).
 */
export function mmapSupported(): boolean {
  if (supported === undefined) {
    supported = Deno.build.os === "linux" &&
      Deno.permissions.querySync({ name: "ffi" }).state === "granted";
  }
  return supported;
}

/** Loads libc for this thread (throws without FFI permission). */
function lib(): Libc {
  if (libc === undefined) {
    let library: Deno.DynamicLibrary<typeof SYMBOLS>;
    try {
      library = Deno.dlopen("libc.so.6", SYMBOLS);
    } catch (error) {
      if (error instanceof Deno.errors.NotCapable) throw error;
      library = Deno.dlopen("libc.so", SYMBOLS); // musl
    }
    libc = library.symbols;
  }
  return libc;
}

/** The calling thread's `errno` (valid right after a failed synchronous call). */
function errno(): number {
  errnoView ??= new Deno.UnsafePointerView(lib().__errno_location()!);
  return errnoView.getInt32();
}

/** A mapping of a whole file: its address and its bytes. */
export interface Mapping {
  /** The address of the first byte, as a number (user addresses fit in 53 bits). */
  readonly address: number;
  /** The mapped bytes (a plain ArrayBuffer over the shared pages). */
  readonly buffer: ArrayBuffer;
  /** The pointer, for `munmap`. */
  readonly pointer: Deno.PointerObject;
  /** The mapped length in bytes. */
  readonly length: number;
}

/**
 * Maps `length` bytes of the file at `path` shared and read-write.
 *
 * @throws {Deno.errors.NotFound} and friends if the file cannot be opened.
 */
export function mapFile(path: string, length: number): Mapping {
  const c = lib();
  const fd = c.open(new TextEncoder().encode(path + "\0"), O_RDWR, 0);
  if (fd < 0) {
    throw new Error(`Cannot map ${path}: open failed with errno ${errno()}`);
  }
  try {
    const pointer = c.mmap(null, BigInt(length), PROT_READ_WRITE, MAP_SHARED, fd, 0n);
    const address = pointer === null ? 0n : Deno.UnsafePointer.value(pointer);
    if (pointer === null || address === -1n || address === 0xffffffffffffffffn) {
      throw new Error(`Cannot map ${path}: mmap failed with errno ${errno()}`);
    }
    return {
      address: Number(address),
      buffer: Deno.UnsafePointerView.getArrayBuffer(pointer, length),
      pointer,
      length,
    };
  } finally {
    c.close(fd); // the mapping keeps the file alive
  }
}

/** Unmaps a mapping. Every view over its buffer is dangling afterwards. */
export function unmap(mapping: Mapping): void {
  lib().munmap(mapping.pointer, BigInt(mapping.length));
}

/** Outcome of one futex wait: 0 woken (maybe spuriously), or an errno. */
export type FutexOutcome = 0 | typeof EAGAIN | typeof ETIMEDOUT | typeof EINTR;

/**
 * Sleeps while the 32-bit word at `address` holds `expected`, at most
 * `timeoutMs` (Infinity: no timeout). Blocks the calling thread.
 */
export function futexWait(address: number, expected: number, timeoutMs: number): FutexOutcome {
  let timespec: Uint8Array | null = null;
  if (timeoutMs !== Infinity) {
    const ns = BigInt(Math.max(0, Math.round(timeoutMs * 1e6)));
    timespec = new Uint8Array(new BigInt64Array([ns / 1_000_000_000n, ns % 1_000_000_000n]).buffer);
  }
  const result = syscall()(SYS_FUTEX, address, FUTEX_WAIT, expected, timespec, 0, 0);
  if (Number(result) === 0) return 0;
  const code = errno();
  return code === EAGAIN || code === ETIMEDOUT ? code : EINTR;
}

/**
 * The same wait on a pool thread (the calling thread stays free), with a
 * bitset (so {@linkcode futexWakeBitset} can cancel it) and a bounded
 * timeout (a pending pool-thread wait cannot be cancelled otherwise).
 * Resolves 0 when woken, -1 otherwise (timed out, value changed, or
 * interrupted: the caller re-checks).
 */
export async function futexWaitAsync(
  address: number,
  expected: number,
  timeoutMs: number,
  bitset: number,
): Promise<number> {
  const c = lib();
  const now = new BigInt64Array(2);
  c.clock_gettime(CLOCK_MONOTONIC, new Uint8Array(now.buffer));
  const ns = now[0] * 1_000_000_000n + now[1] + BigInt(Math.max(0, Math.round(timeoutMs * 1e6)));
  const deadline = new BigInt64Array([ns / 1_000_000_000n, ns % 1_000_000_000n]);
  const result = await syscallAsync()(
    SYS_FUTEX,
    address,
    FUTEX_WAIT_BITSET,
    expected,
    new Uint8Array(deadline.buffer),
    0,
    bitset,
  );
  return Number(result) === 0 ? 0 : -1;
}

/** Wakes up to `count` waiters on the word at `address`; returns how many woke. */
export function futexWake(address: number, count: number): number {
  const n = count >= 0x7fffffff ? 0x7fffffff : Math.max(0, Math.floor(count));
  return Number(syscall()(SYS_FUTEX, address, FUTEX_WAKE, n, null, 0, 0));
}

/** Wakes every waiter on `address` whose bitset intersects `bitset`. */
export function futexWakeBitset(address: number, bitset: number): number {
  return Number(syscall()(SYS_FUTEX, address, FUTEX_WAKE_BITSET, 0x7fffffff, null, 0, bitset));
}

// Load eagerly when permitted: the library stays open for the life of the
// thread, and opening it at import time keeps it out of `deno test`'s
// resource sanitizer (which would report a library opened inside a test).
if (mmapSupported()) lib();
