/**
 * `RedisQueue`: Python's `multiprocessing.Queue` across machines, on Redis.
 *
 * @module
 */

import type { AsyncWaitOptions } from "../shm/timeout.ts";
import { QueueClosedError } from "../primitives/errors.ts";
import { checkName } from "./_connection.ts";
import { QueueCore, type RedisQueueOptions } from "./_queue_core.ts";

export type { RedisQueueOptions } from "./_queue_core.ts";

/**
 * A FIFO queue shared by any number of producers and consumers on any
 * number of machines, stored in Redis under a name: the same options, errors
 * and semantics as the shared-memory `Queue`, **async only** (every method
 * is a round trip to Redis and returns a promise; there is no blocking form).
 *
 * - `putAsync` on a full bounded queue waits for room, `getAsync` on an empty
 *   one waits for an item; both take a `timeout` (then `QueueFullError` /
 *   `QueueEmptyError`) and an abort `signal`. Waiting uses blocking Redis
 *   commands on a dedicated connection, never sleep loops.
 * - `putNowait` / `getNowait` never wait.
 * - `close()` closes the queue for every handle: puts then fail with
 *   `QueueClosedError`; consumers drain what is left and then get
 *   `QueueClosedError`, including those already blocked.
 * - `putMany` / `getMany` move a batch in one atomic script call per 1000 items.
 * - Each producer's items arrive in the order it put them; each item is
 *   delivered to exactly one `getAsync`. An item taken is gone: for
 *   acknowledged, redelivered-on-crash delivery use `RedisJoinableQueue`.
 *
 * All keys share the hash tag `{name}`, so the queue works on Redis Cluster.
 *
 * @typeParam T The items carried (JSON values by default; see `codec`).
 *
 * @example Producer and consumer in two programs
 * ```ts
 * import { RedisQueue } from "@concur/shm/redis";
 *
 * const queue = await RedisQueue.open<{ id: number }>("redis://127.0.0.1:6379", "orders", {
 *   capacity: 100,
 * });
 * await queue.putAsync({ id: 1 }); // in the producer
 * console.log(await queue.getAsync({ timeout: 1000 })); // { id: 1 }, in a consumer
 * await queue.disconnect();
 * ```
 */
export class RedisQueue<T = unknown> implements AsyncDisposable {
  readonly #core: QueueCore<T>;

  /** @internal Use {@linkcode RedisQueue.open}. */
  constructor(core: QueueCore<T>) {
    this.#core = core;
  }

  /**
   * Connects to Redis and opens the queue `name`, creating it if needed.
   *
   * @example
   * ```ts
   * import { RedisQueue } from "@concur/shm/redis";
   *
   * const queue = await RedisQueue.open("redis://127.0.0.1:6379", "tasks", { capacity: 10 });
   * console.log(queue.capacity); // 10
   * await queue.disconnect();
   * ```
   *
   * @param url `redis://[user:password@]host:port[/db]` (or `rediss://`).
   * @param name The queue's name; every handle opened with it shares the queue.
   * @param options `capacity`, `codec`, timeouts of the connection, key `prefix`.
   * @returns The connected queue.
   * @throws {TypeError} For a malformed URL or name.
   * @throws {RangeError} For a negative or fractional capacity.
   * @throws {RedisConnectionError} If Redis cannot be reached within `connectTimeout`.
   * @throws {LayoutError} If `name` holds another kind of object, or a queue of another capacity.
   */
  static async open<T = unknown>(
    url: string,
    name: string,
    options?: RedisQueueOptions<T>,
  ): Promise<RedisQueue<T>> {
    checkName(name);
    return new RedisQueue<T>(await QueueCore.open<T>("Queue", url, name, options));
  }

  /** The queue's name in Redis. */
  get name(): string {
    return this.#core.name;
  }

  /** Maximum items waiting (0: unbounded). */
  get capacity(): number {
    return this.#core.capacity;
  }

  /**
   * Puts an item, waiting while the queue is full.
   *
   * @example
   * ```ts
   * import { QueueFullError, RedisQueue } from "@concur/shm/redis";
   *
   * const queue = await RedisQueue.open("redis://127.0.0.1:6379", "one", { capacity: 1 });
   * await queue.putAsync("a");
   * await queue.putAsync("b", { timeout: 50 }).catch((err) => {
   *   console.log(err instanceof QueueFullError); // true
   * });
   * await queue.disconnect();
   * ```
   *
   * @param value The item (encoded by the queue's codec).
   * @param options `timeout` in ms (default: forever; 0 or negative: do not wait) and an abort `signal`.
   * @throws {QueueFullError} If the queue stayed full until the timeout.
   * @throws {QueueClosedError} If the queue is closed.
   * @throws {TypeError} If the codec cannot encode the value (nothing is put).
   * @throws The signal's reason if it aborts first (nothing is put).
   */
  putAsync(value: T, options?: AsyncWaitOptions): Promise<void> {
    return this.#core.putOne(value, options?.timeout, options?.signal);
  }

  /**
   * Puts an item if there is room now.
   *
   * @example
   * ```ts
   * import { RedisQueue } from "@concur/shm/redis";
   *
   * const queue = await RedisQueue.open("redis://127.0.0.1:6379", "now");
   * await queue.putNowait(1);
   * console.log(await queue.getNowait()); // 1
   * await queue.disconnect();
   * ```
   *
   * @param value The item.
   * @throws {QueueFullError} If the queue is full.
   * @throws {QueueClosedError} If the queue is closed.
   */
  putNowait(value: T): Promise<void> {
    return this.#core.put([value], 0);
  }

  /**
   * Puts several items in order, in batches of up to 1000 per atomic script
   * call (one round trip each), waiting for room as needed.
   *
   * @example
   * ```ts
   * import { RedisQueue } from "@concur/shm/redis";
   *
   * const queue = await RedisQueue.open<number>("redis://127.0.0.1:6379", "batch");
   * await queue.putMany([1, 2, 3]);
   * console.log(await queue.getMany(10)); // [1, 2, 3]
   * await queue.disconnect();
   * ```
   *
   * @param values The items, in order.
   * @param options `timeout` in ms for the whole batch and an abort `signal`.
   * @throws {QueueFullError} On timeout; the items before were put, and `err.cause`
   * is how many (a number), as with the shared-memory `Queue`.
   * @throws {QueueClosedError} If the queue is or becomes closed (`err.cause` likewise).
   */
  putMany(values: readonly T[], options?: AsyncWaitOptions): Promise<void> {
    return this.#core.put(values, options?.timeout, options?.signal);
  }

  /**
   * Takes the oldest item, waiting while the queue is empty.
   *
   * @example
   * ```ts
   * import { QueueEmptyError, RedisQueue } from "@concur/shm/redis";
   *
   * const queue = await RedisQueue.open("redis://127.0.0.1:6379", "empty");
   * await queue.getAsync({ timeout: 50 }).catch((err) => {
   *   console.log(err instanceof QueueEmptyError); // true
   * });
   * await queue.disconnect();
   * ```
   *
   * @param options `timeout` in ms (default: forever; 0 or negative: do not wait) and an abort `signal`.
   * @returns The item.
   * @throws {QueueEmptyError} If the queue stayed empty until the timeout.
   * @throws {QueueClosedError} If the queue is closed and drained.
   * @throws The signal's reason if it aborts first (nothing is taken).
   */
  getAsync(options?: AsyncWaitOptions): Promise<T> {
    return this.#core.getOne(options?.timeout, options?.signal);
  }

  /**
   * Takes the oldest item if there is one now.
   *
   * @example
   * ```ts
   * import { RedisQueue } from "@concur/shm/redis";
   *
   * const queue = await RedisQueue.open("redis://127.0.0.1:6379", "poll");
   * await queue.getNowait().catch((err) => console.log(err.name)); // "QueueEmptyError"
   * await queue.disconnect();
   * ```
   *
   * @returns The item.
   * @throws {QueueEmptyError} If the queue is empty.
   * @throws {QueueClosedError} If the queue is closed and drained.
   */
  getNowait(): Promise<T> {
    return this.#core.getOne(0);
  }

  /**
   * Takes up to `max` items in one round trip, waiting (like `getAsync`)
   * only while the queue is empty.
   *
   * @example
   * ```ts
   * import { RedisQueue } from "@concur/shm/redis";
   *
   * const queue = await RedisQueue.open<string>("redis://127.0.0.1:6379", "many");
   * await queue.putMany(["a", "b"]);
   * console.log(await queue.getMany(5, { timeout: 100 })); // ["a", "b"]
   * await queue.disconnect();
   * ```
   *
   * @param max The most items to take, an integer >= 1.
   * @param options `timeout` in ms and an abort `signal`.
   * @returns Between 1 and `max` items, oldest first.
   * @throws {RangeError} If `max` is not an integer >= 1.
   * @throws {QueueEmptyError} If the queue stayed empty until the timeout.
   * @throws {QueueClosedError} If the queue is closed and drained.
   */
  getMany(max: number, options?: AsyncWaitOptions): Promise<T[]> {
    if (!Number.isSafeInteger(max) || max < 1) {
      return Promise.reject(
        new RangeError(`getMany: max must be an integer >= 1: received ${max}`),
      );
    }
    return this.#core.get(max, options?.timeout, options?.signal);
  }

  /**
   * Iterates with `getAsync` until the queue is closed and drained.
   *
   * @example
   * ```ts
   * import { RedisQueue } from "@concur/shm/redis";
   *
   * const queue = await RedisQueue.open<number>("redis://127.0.0.1:6379", "iterated");
   * await queue.putMany([1, 2]);
   * await queue.close();
   * const seen: number[] = [];
   * for await (const n of queue) seen.push(n);
   * console.log(seen); // [1, 2]
   * await queue.disconnect();
   * ```
   *
   * @returns An async iterator over the items.
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for (;;) {
      let value: T;
      try {
        value = await this.getAsync();
      } catch (err) {
        if (err instanceof QueueClosedError) return;
        throw err;
      }
      yield value;
    }
  }

  /**
   * Number of items waiting (a snapshot).
   *
   * @example
   * ```ts
   * import { RedisQueue } from "@concur/shm/redis";
   *
   * const queue = await RedisQueue.open("redis://127.0.0.1:6379", "sized");
   * await queue.putAsync(1);
   * console.log(await queue.qsize()); // 1
   * await queue.disconnect();
   * ```
   *
   * @returns The count.
   */
  async qsize(): Promise<number> {
    return (await this.#core.state()).size;
  }

  /**
   * Whether no item is waiting (a snapshot).
   *
   * @example
   * ```ts
   * import { RedisQueue } from "@concur/shm/redis";
   *
   * const queue = await RedisQueue.open("redis://127.0.0.1:6379", "fresh");
   * console.log(await queue.empty()); // true
   * await queue.disconnect();
   * ```
   *
   * @returns `qsize() === 0`.
   */
  async empty(): Promise<boolean> {
    return (await this.#core.state()).size === 0;
  }

  /**
   * Whether a bounded queue holds `capacity` items (a snapshot).
   *
   * @example
   * ```ts
   * import { RedisQueue } from "@concur/shm/redis";
   *
   * const queue = await RedisQueue.open("redis://127.0.0.1:6379", "tiny", { capacity: 1 });
   * await queue.putAsync(1);
   * console.log(await queue.full()); // true
   * await queue.disconnect();
   * ```
   *
   * @returns Whether a put would wait.
   */
  async full(): Promise<boolean> {
    return this.capacity > 0 && (await this.#core.state()).size >= this.capacity;
  }

  /**
   * Whether the queue was closed (by any handle).
   *
   * @example
   * ```ts
   * import { RedisQueue } from "@concur/shm/redis";
   *
   * const queue = await RedisQueue.open("redis://127.0.0.1:6379", "shut");
   * await queue.close();
   * console.log(await queue.closed()); // true
   * await queue.disconnect();
   * ```
   *
   * @returns The flag.
   */
  async closed(): Promise<boolean> {
    return (await this.#core.state()).closed;
  }

  /**
   * Closes the queue for every handle on every machine: later puts throw
   * `QueueClosedError`; getters (blocked ones too) take what is left and
   * then throw `QueueClosedError`. Closing twice does nothing. The
   * connection stays open (see {@linkcode RedisQueue.disconnect}).
   *
   * @example
   * ```ts
   * import { RedisQueue } from "@concur/shm/redis";
   *
   * const queue = await RedisQueue.open("redis://127.0.0.1:6379", "closing");
   * await queue.putAsync("last");
   * await queue.close();
   * console.log(await queue.getAsync()); // "last"
   * await queue.getAsync().catch((err) => console.log(err.name)); // "QueueClosedError"
   * await queue.disconnect();
   * ```
   */
  async close(): Promise<void> {
    await this.#core.close();
  }

  /**
   * Deletes the queue's keys from Redis (its items too). Other handles then
   * fail with `ClosedError`.
   *
   * @example
   * ```ts
   * import { RedisQueue } from "@concur/shm/redis";
   *
   * const queue = await RedisQueue.open("redis://127.0.0.1:6379", "scratch");
   * await queue.destroy();
   * await queue.disconnect();
   * ```
   */
  destroy(): Promise<void> {
    return this.#core.destroy();
  }

  /**
   * Closes this handle's connections (the queue itself stays in Redis).
   * Pending calls of this handle fail with `RedisConnectionError`.
   *
   * @example
   * ```ts
   * import { RedisQueue } from "@concur/shm/redis";
   *
   * await using queue = await RedisQueue.open("redis://127.0.0.1:6379", "scoped");
   * // disconnected at the end of the scope
   * ```
   */
  disconnect(): Promise<void> {
    return this.#core.disconnect();
  }

  /** Same as {@linkcode RedisQueue.disconnect}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.disconnect();
  }
}
