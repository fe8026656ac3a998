/**
 * `RedisJoinableQueue`: Python's `JoinableQueue` across machines, with
 * reliable (acknowledged) delivery.
 *
 * @module
 */

import type { AsyncWaitOptions } from "../shm/timeout.ts";
import { checkName } from "./_connection.ts";
import { QueueCore, type RedisJoinableQueueOptions } from "./_queue_core.ts";
import { RedisQueue } from "./queue.ts";

export type { RedisJoinableQueueOptions } from "./_queue_core.ts";

/**
 * A {@linkcode RedisQueue} whose items are acknowledged: `taskDone()` marks
 * an item finished and `joinAsync()` waits until every item ever put has
 * been. Async only, like every Redis primitive.
 *
 * Reliable delivery: an item taken by `getAsync` is not deleted but leased
 * to this handle (kept in Redis with a deadline) until `taskDone()`
 * acknowledges it. The handle renews its leases while it lives; if its
 * process dies, its unacknowledged items go back to the front of the queue
 * `visibilityTimeout` ms after the last renewal and are delivered again.
 * Delivery is therefore at-least-once: a consumer that dies after doing the
 * work but before `taskDone()` causes the item to be processed twice.
 *
 * Differences from Python, forced by acknowledgement across machines:
 * `taskDone()` acknowledges the oldest item **this handle** took and has not
 * acknowledged (Python counts puts, not gets, so it accepts a `task_done()`
 * from anyone); calling it with none outstanding throws `TaskDoneError`.
 * `joinAsync()` takes a timeout and a signal and resolves to `false` on timeout,
 * like the shared-memory `JoinableQueue`.
 *
 * @typeParam T The items carried.
 *
 * @example Workers acknowledge, the producer joins
 * ```ts
 * import { RedisJoinableQueue } from "@concur/shm/redis";
 *
 * const url = "redis://127.0.0.1:6379";
 * const jobs = await RedisJoinableQueue.open<number>(url, "work");
 * await jobs.putMany([1, 2, 3]);
 * // in each worker process:
 * const worker = await RedisJoinableQueue.open<number>(url, "work");
 * for (let i = 0; i < 3; i++) {
 *   const n = await worker.getAsync();
 *   console.log(n * n);
 *   await worker.taskDone();
 * }
 * console.log(await jobs.joinAsync({ timeout: 5000 })); // true: every item acknowledged
 * await worker.disconnect();
 * await jobs.disconnect();
 * ```
 */
export class RedisJoinableQueue<T = unknown> extends RedisQueue<T> {
  readonly #core: QueueCore<T>;

  /** @internal Use {@linkcode RedisJoinableQueue.open}. */
  constructor(core: QueueCore<T>) {
    super(core);
    this.#core = core;
  }

  /**
   * Connects to Redis and opens the joinable queue `name`, creating it if needed.
   *
   * @example
   * ```ts
   * import { RedisJoinableQueue } from "@concur/shm/redis";
   *
   * const queue = await RedisJoinableQueue.open("redis://127.0.0.1:6379", "leased-jobs", {
   *   capacity: 100,
   *   visibilityTimeout: 10_000,
   * });
   * console.log(queue.visibilityTimeout); // 10000
   * await queue.disconnect();
   * ```
   *
   * @param url `redis://[user:password@]host:port[/db]` (or `rediss://`).
   * @param name The queue's name.
   * @param options `capacity`, `codec`, `visibilityTimeout`, connection timeouts, key `prefix`.
   * @returns The connected queue.
   * @throws {TypeError} For a malformed URL or name.
   * @throws {RangeError} For a bad capacity or visibility timeout.
   * @throws {RedisConnectionError} If Redis cannot be reached within `connectTimeout`.
   * @throws {LayoutError} If `name` holds another kind of object or another capacity.
   */
  static override async open<T = unknown>(
    url: string,
    name: string,
    options?: RedisJoinableQueueOptions<T>,
  ): Promise<RedisJoinableQueue<T>> {
    checkName(name);
    return new RedisJoinableQueue<T>(
      await QueueCore.open<T>("JoinableQueue", url, name, options),
    );
  }

  /** Milliseconds an unrenewed lease lasts before its item is redelivered. */
  get visibilityTimeout(): number {
    return this.#core.visibilityTimeout;
  }

  /**
   * How many items this handle has taken and not yet acknowledged.
   *
   * @example
   * ```ts
   * import { RedisJoinableQueue } from "@concur/shm/redis";
   *
   * const queue = await RedisJoinableQueue.open("redis://127.0.0.1:6379", "count");
   * await queue.putAsync("x");
   * await queue.getAsync();
   * console.log(queue.outstanding); // 1
   * await queue.taskDone();
   * await queue.disconnect();
   * ```
   */
  get outstanding(): number {
    return this.#core.outstanding;
  }

  /**
   * Acknowledges the oldest item this handle took and has not acknowledged:
   * it is deleted from Redis and counts as finished for `joinAsync`.
   *
   * @example
   * ```ts
   * import { RedisJoinableQueue } from "@concur/shm/redis";
   *
   * const queue = await RedisJoinableQueue.open("redis://127.0.0.1:6379", "ack");
   * await queue.putAsync("job");
   * await queue.getAsync();
   * await queue.taskDone();
   * await queue.taskDone().catch((err) => console.log(err.name)); // "TaskDoneError"
   * await queue.disconnect();
   * ```
   *
   * @throws {TaskDoneError} If this handle holds no unacknowledged item
   * ("called too many times"), or if the item's lease had expired and it was
   * redelivered to someone else (it will be acknowledged by them).
   */
  taskDone(): Promise<void> {
    return this.#core.taskDone();
  }

  /**
   * Waits until every item put has been acknowledged.
   *
   * @example
   * ```ts
   * import { RedisJoinableQueue } from "@concur/shm/redis";
   *
   * const queue = await RedisJoinableQueue.open("redis://127.0.0.1:6379", "joined");
   * console.log(await queue.joinAsync()); // true at once: nothing unfinished
   * await queue.putAsync(1);
   * console.log(await queue.joinAsync({ timeout: 10 })); // false
   * await queue.getAsync();
   * await queue.taskDone();
   * await queue.disconnect();
   * ```
   *
   * @param options `timeout` in ms (default: forever; 0 or negative: check once) and an abort `signal`.
   * @returns `true` once nothing is unfinished, `false` if the timeout expired first.
   * @throws The signal's reason if it aborts first.
   */
  joinAsync(options?: AsyncWaitOptions): Promise<boolean> {
    return this.#core.join(options?.timeout, options?.signal);
  }

  /**
   * Number of items put and not yet acknowledged, queue-wide (a snapshot).
   *
   * @example
   * ```ts
   * import { RedisJoinableQueue } from "@concur/shm/redis";
   *
   * const queue = await RedisJoinableQueue.open("redis://127.0.0.1:6379", "unfinished");
   * await queue.putAsync(1);
   * console.log(await queue.unfinishedTasks()); // 1
   * await queue.getAsync();
   * await queue.taskDone();
   * await queue.disconnect();
   * ```
   *
   * @returns The count.
   */
  async unfinishedTasks(): Promise<number> {
    return (await this.#core.state()).unfinished;
  }
}
