/**
 * `JoinableQueue`: a {@linkcode Queue} that counts unfinished tasks
 * (Python's `multiprocessing.JoinableQueue`).
 *
 * Two more cells (see `_queue_layout.ts`): UNFINISHED, the number of items
 * put and not yet marked done, and JOIN_BELL, the futex word `join` sleeps on.
 *
 * Invariants and why they hold:
 * - The count is driven by `put` (Python's behaviour): a put increments
 *   UNFINISHED after it has claimed its slot and before it publishes it
 *   (`Queue.countsPuts`), and marks the slot as counted. So a consumer that
 *   got an item and calls `taskDone()` always finds a count that includes
 *   it (the count never goes negative, and `taskDone()` too many times is
 *   detected), and a put that fails (full, closed, timeout, encoding error)
 *   or is still waiting for room was never counted. A put whose producer
 *   died before publishing is uncounted by the consumer that recovers its
 *   slot, if the slot is marked.
 * - `taskDone()` decrements with a compare-exchange loop that refuses to go
 *   below zero ({@linkcode TaskDoneError}, count unchanged). Whoever moves
 *   the count to 0 (a `taskDone` or a put's roll-back) increments JOIN_BELL
 *   and wakes every joiner.
 * - No lost wake-up: `join` loads JOIN_BELL, then UNFINISHED, and sleeps on
 *   the bell only if it still holds the loaded value; a count that reached 0
 *   after the load changed the bell.
 *
 * @module
 */

import type { Codec } from "../shm/codec.ts";
import type { Memory } from "../shm/memory.ts";
import { type AsyncWaitOptions, Deadline, type WaitOptions } from "../shm/timeout.ts";
import type { KindName, PrimitiveHandle } from "./_header.ts";
import { attachQueueMemory, codecFor, JOIN_BELL, UNFINISHED } from "./_queue_layout.ts";
import { TaskDoneError } from "./errors.ts";
import { Queue, type QueueAttachOptions, type QueueOptions } from "./queue.ts";
import { DENO_INSPECT, describeState } from "./_inspect.ts";

/**
 * The structured-cloneable form of a {@linkcode JoinableQueue}.
 *
 * @example
 * ```ts
 * import { JoinableQueue, type JoinableQueueHandle } from "@concur/shm";
 *
 * const jobs = new JoinableQueue<number>(8, { codec: "number" });
 * const handle: JoinableQueueHandle = jobs.handle; // worker.postMessage(handle)
 * const there = JoinableQueue.from<number>(handle); // in the worker
 * jobs.put(1);
 * there.get();
 * there.taskDone();
 * console.log(jobs.join({ timeout: 0 })); // true
 * ```
 */
export type JoinableQueueHandle = PrimitiveHandle<"JoinableQueue">;

/**
 * A {@linkcode Queue} whose consumers mark each item done, so that a
 * producer can wait until all the work it queued is finished.
 *
 * Every `put` adds one unfinished task; every `taskDone()` removes one;
 * `join()` waits until none is left. As in Python, the count follows `put`,
 * not `get`: `taskDone()` is accepted for an item nobody has taken yet.
 *
 * @typeParam T The values carried.
 *
 * @example Waiting for every task to be processed
 * ```ts
 * import { JoinableQueue } from "@concur/shm";
 *
 * const tasks = new JoinableQueue<number>(8, { codec: "number" });
 * // workers: for (;;) { const n = tasks.get(); work(n); tasks.taskDone(); }
 * tasks.put(1);
 * tasks.put(2);
 * tasks.get();
 * tasks.taskDone();
 * tasks.get();
 * tasks.taskDone();
 * console.log(await tasks.joinAsync({ timeout: 1000 })); // true
 * ```
 */
export class JoinableQueue<T = unknown> extends Queue<T> {
  /**
   * Creates an empty joinable queue.
   *
   * @param capacity How many items it holds at most (an integer >= 1;
   * default 1024: unlike Python's, a queue is never unbounded).
   * @param options `maxMessageBytes`, `codec`, and where to allocate it.
   * @throws {RangeError} If `capacity` or `maxMessageBytes` is out of range.
   */
  constructor(capacity?: number, options?: QueueOptions<T>);
  /** @internal Wraps an already checked memory. */
  constructor(memory: Memory, codec: Codec<T>);
  constructor(arg?: number | Memory, options?: QueueOptions<T> | Codec<T>) {
    super(arg as number | undefined, options as QueueOptions<T>);
  }

  /** @internal The kind stored in the header. */
  protected override kindName(): KindName {
    return "JoinableQueue";
  }

  /**
   * Revives a joinable queue from its handle (typically in a worker).
   *
   * @param handle The {@linkcode JoinableQueue.handle} of a joinable queue.
   * @param options The `codec`, if the queue was created with a custom one.
   * @returns A joinable queue on the same shared state.
   * @throws {LayoutError} If the handle is not a valid joinable queue.
   *
   * @example
   * ```ts
   * import { JoinableQueue } from "@concur/shm";
   *
   * const queue = new JoinableQueue(4);
   * JoinableQueue.from(queue.handle).put("job");
   * console.log(queue.unfinishedTasks); // 1
   * ```
   */
  static override from<T = unknown>(
    handle: JoinableQueueHandle,
    options?: QueueAttachOptions<T>,
  ): JoinableQueue<T> {
    const memory = attachQueueMemory(handle, "JoinableQueue");
    return new JoinableQueue<T>(memory, codecFor<T>(memory, "JoinableQueue", options?.codec));
  }

  /**
   * Plain data to post to a worker; revive it with {@linkcode JoinableQueue.from}.
   *
   * @example
   * ```ts
   * import { JoinableQueue } from "@concur/shm";
   *
   * console.log(new JoinableQueue(4).handle.kind); // "JoinableQueue"
   * ```
   */
  override get handle(): JoinableQueueHandle {
    return { kind: "JoinableQueue", memory: this.memory.handle() };
  }

  /**
   * Items put and not yet marked done (a snapshot).
   *
   * @example
   * ```ts
   * import { JoinableQueue } from "@concur/shm";
   *
   * const queue = new JoinableQueue(4);
   * queue.put(1);
   * console.log(queue.unfinishedTasks); // 1
   * ```
   */
  get unfinishedTasks(): number {
    return this.memory.load(UNFINISHED);
  }

  #undo(): void {
    if (this.memory.add(UNFINISHED, -1) === 1) this.#ringJoiners();
  }

  /** @internal A counted put whose producer died before publishing: it will never be taken. */
  protected override abandonedPut(): void {
    this.#undo();
  }

  #ringJoiners(): void {
    const m = this.memory;
    m.add(JOIN_BELL, 1);
    m.notify(JOIN_BELL);
  }

  /** @internal Every put is counted as an unfinished task. */
  protected override countsPuts(): boolean {
    return true;
  }

  /**
   * Marks one task done (Python's `task_done()`); wakes the joiners when
   * none is left.
   *
   * @throws {TaskDoneError} If no task is unfinished (the count is unchanged).
   *
   * @example
   * ```ts
   * import { JoinableQueue } from "@concur/shm";
   *
   * const queue = new JoinableQueue(1);
   * try {
   *   queue.taskDone();
   * } catch (err) {
   *   console.log((err as Error).name); // "TaskDoneError"
   * }
   * ```
   */
  taskDone(): void {
    const m = this.memory;
    let count = m.load(UNFINISHED);
    for (;;) {
      if (count <= 0) {
        throw new TaskDoneError("Cannot mark task done: taskDone() called too many times");
      }
      const seen = m.compareExchange(UNFINISHED, count, count - 1);
      if (seen === count) break;
      count = seen;
    }
    if (count === 1) this.#ringJoiners();
  }

  /**
   * Waits until every item put has been marked done (Python's `join()`,
   * with a timeout). Blocks the thread: on the main thread prefer
   * {@linkcode JoinableQueue.joinAsync}.
   *
   * @param options `timeout` in ms (default: forever; negative: poll once).
   * @returns `true` once no task is unfinished, `false` if the timeout expired first.
   *
   * @example
   * ```ts
   * import { JoinableQueue } from "@concur/shm";
   *
   * const queue = new JoinableQueue(1);
   * console.log(queue.join()); // true: nothing was put
   * queue.put(1);
   * console.log(queue.join({ timeout: 10 })); // false
   * ```
   */
  join(options?: WaitOptions): boolean {
    const m = this.memory;
    if (m.load(UNFINISHED) === 0) return true;
    const deadline = new Deadline(options?.timeout);
    for (;;) {
      const bell = m.load(JOIN_BELL);
      if (m.load(UNFINISHED) === 0) return true;
      const remaining = deadline.remaining();
      if (remaining === 0) return false;
      m.wait(JOIN_BELL, bell, remaining);
    }
  }

  /**
   * {@linkcode JoinableQueue.join} without blocking the thread or the event loop.
   *
   * @param options `timeout` in ms and an abort `signal`.
   * @returns `true` once no task is unfinished, `false` if the timeout expired first.
   * @throws The signal's reason, if it aborts first.
   *
   * @example
   * ```ts
   * import { JoinableQueue } from "@concur/shm";
   *
   * const queue = new JoinableQueue(1);
   * queue.put(1);
   * setTimeout(() => {
   *   queue.get();
   *   queue.taskDone();
   * }, 10);
   * console.log(await queue.joinAsync({ timeout: 1000 })); // true
   * ```
   */
  async joinAsync(options?: AsyncWaitOptions): Promise<boolean> {
    const signal = options?.signal;
    signal?.throwIfAborted();
    const m = this.memory;
    if (m.load(UNFINISHED) === 0) return true;
    const deadline = new Deadline(options?.timeout);
    for (;;) {
      const bell = m.load(JOIN_BELL);
      if (m.load(UNFINISHED) === 0) return true;
      const remaining = deadline.remaining();
      if (remaining === 0) return false;
      await m.waitAsync(JOIN_BELL, bell, remaining, signal);
    }
  }

  /**
   * What `console.log` and `Deno.inspect` show: the state at this moment
   * (a snapshot), like Python's repr.
   *
   * @example
   * ```ts
   * import { JoinableQueue } from "@concur/shm";
   *
   * console.log(new JoinableQueue(2)); // JoinableQueue { size: 0, capacity: 2, unfinishedTasks: 0, closed: false }
   * ```
   */
  override [DENO_INSPECT](): string {
    return describeState("JoinableQueue", {
      size: this.qsize(),
      capacity: this.capacity,
      unfinishedTasks: this.unfinishedTasks,
      closed: this.closed,
    });
  }
}
