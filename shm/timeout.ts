/**
 * Timeout arithmetic shared by every blocking call.
 *
 * Rule (documented on every option): a timeout is in milliseconds;
 * `undefined` or `Infinity` waits forever; a negative timeout or `NaN` is
 * treated as 0, which polls once (Python's `multiprocessing` rule).
 *
 * @module
 */

/** Normalises a user timeout: undefined → Infinity, negative or NaN → 0. */
export function normalizeTimeout(timeout: number | undefined): number {
  if (timeout === undefined) return Infinity;
  if (typeof timeout !== "number") {
    throw new TypeError(`Timeout must be a number of milliseconds: received ${typeof timeout}`);
  }
  return timeout > 0 ? timeout : 0;
}

/** A fixed point in time computed once, so compound waits share one overall budget. */
export class Deadline {
  readonly #end: number;
  /** @param timeout Milliseconds from now (normalised by {@linkcode normalizeTimeout}). */
  constructor(timeout: number | undefined) {
    const ms = normalizeTimeout(timeout);
    this.#end = ms === Infinity ? Infinity : performance.now() + ms;
  }
  /** Milliseconds left, never negative; `Infinity` for no deadline. */
  remaining(): number {
    if (this.#end === Infinity) return Infinity;
    const left = this.#end - performance.now();
    return left > 0 ? left : 0;
  }
  /** Whether the deadline has passed. */
  expired(): boolean {
    return this.remaining() === 0;
  }
}

/**
 * The options every blocking call accepts.
 *
 * @example
 * ```ts
 * import { Semaphore, type WaitOptions } from "@concur/shm";
 *
 * const empty = new Semaphore(0);
 * const options: WaitOptions = { timeout: 10 }; // ms; 0 polls once, absent waits forever
 * console.log(empty.acquire(options)); // false: no permit within 10 ms
 * ```
 */
export interface WaitOptions {
  /**
   * Milliseconds to wait at most. `undefined`/`Infinity` waits forever; a
   * negative value is treated as 0 (poll once).
   */
  timeout?: number;
}

/**
 * The options every async blocking call accepts.
 *
 * @example
 * ```ts
 * import { type AsyncWaitOptions, Event } from "@concur/shm";
 *
 * const event = new Event();
 * const controller = new AbortController();
 * const options: AsyncWaitOptions = { timeout: 1000, signal: controller.signal };
 * const pending = event.waitAsync(options);
 * controller.abort(new Error("cancelled"));
 * await pending.catch((err: Error) => console.log(err.message)); // "cancelled"
 * ```
 */
export interface AsyncWaitOptions extends WaitOptions {
  /** Aborting it rejects the pending call with `signal.reason`. */
  signal?: AbortSignal;
}

/**
 * Runs `callback` once `ms` milliseconds have passed, never earlier: timers
 * fire after 1 ms when given more than 2^31 - 1 ms, so a long delay is
 * covered by a chain of shorter timers. Returns the cancel function.
 * `Infinity` arms nothing.
 */
export function setLongTimeout(callback: () => void, ms: number): () => void {
  if (ms === Infinity) return () => {};
  const end = performance.now() + ms;
  let timer: ReturnType<typeof setTimeout>;
  const arm = (delay: number) => {
    timer = setTimeout(() => {
      const left = end - performance.now();
      if (left > 0) arm(left);
      else callback();
    }, Math.min(Math.max(delay, 0), MAX_TIMER_MS));
  };
  arm(ms);
  return () => clearTimeout(timer);
}

/** What {@linkcode waitWithin} resolves with once its time is up. */
export const TIMED_OUT: unique symbol = Symbol("timed out");

/**
 * Waits for `work` for at most `timeoutMs` (normalised; `Infinity`: no
 * limit): resolves with its value, or with {@linkcode TIMED_OUT} once the
 * time is up; rejects with the signal's reason if `signal` aborts first.
 * Only the wait ends: the work goes on.
 */
export async function waitWithin<T>(
  work: Promise<T>,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<T | typeof TIMED_OUT> {
  signal?.throwIfAborted();
  if (timeoutMs === Infinity && signal === undefined) return await work;
  void work.catch(() => {}); // a wait that ends first leaves nobody to see a late failure
  const { promise: ended, resolve, reject } = Promise.withResolvers<typeof TIMED_OUT>();
  const cancelTimer = setLongTimeout(() => resolve(TIMED_OUT), timeoutMs);
  const onAbort = () => reject(signal!.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    return await Promise.race([work, ended]);
  } finally {
    cancelTimer();
    signal?.removeEventListener("abort", onAbort);
  }
}

/** Longest delay `setTimeout` honours (a signed 32-bit count of ms). */
const MAX_TIMER_MS = 0x7fffffff;
