/**
 * `Pool`: a fixed set of worker threads running exported functions of your
 * module (Python's `multiprocessing.Pool`), fed through shared memory.
 *
 * @module
 */

import { holdEventLoop } from "../shm/keep_alive.ts";
import { normalizeTimeout, TIMED_OUT, waitWithin } from "../shm/timeout.ts";
import type { AsyncWaitOptions } from "../shm/timeout.ts";
import {
  ClosedError,
  ConcurrencyError,
  TimeoutError,
  WorkerDiedError,
} from "../primitives/errors.ts";
import { type ErrorRecord, remoteErrorOf } from "./_control.ts";
import { RESULT_ERROR, RESULT_TOO_LARGE } from "./_runtime.ts";
import { decodeValue, encodeValue, STRUCTURED } from "./_pool_codec.ts";
import { MAX_CONSUMERS, type PendingRecord, type RingRecord, TaskRing } from "./_task_ring.ts";
import { assertSendable, NOT_SENDABLE } from "./revive.ts";
import { toModuleUrl, WorkerProcess } from "./worker_process.ts";

/**
 * Options of {@linkcode Pool}.
 *
 * @example
 * ```ts ignore
 * // squares.ts
 * import { isMainThread, Pool, type PoolOptions } from "@concur/shm";
 *
 * export function square(x: number): number {
 *   return x * x;
 * }
 *
 * if (isMainThread()) {
 *   const options: PoolOptions = { module: import.meta.url, size: 2, maxTasksPerWorker: 100 };
 *   await using pool = new Pool(options);
 *   console.log(await pool.map("square", [1, 2, 3])); // [1, 4, 9]
 * }
 * ```
 */
export interface PoolOptions {
  /**
   * URL of the module whose exported functions the tasks name (usually
   * `import.meta.url`). It must import this library.
   */
  module: string | URL;
  /** Number of workers (default `navigator.hardwareConcurrency`). */
  size?: number;
  /**
   * Name of an export each worker calls once at start-up with
   * {@linkcode PoolOptions.initArgs} (where primitives may be passed: they
   * arrive revived, unlike task arguments).
   */
  initializer?: string;
  /** Arguments of the initializer (structured-cloneable; primitives allowed). */
  initArgs?: readonly unknown[];
  /**
   * Bytes of each shared ring (tasks, results): an integer in [64, 2^30],
   * rounded up to a power of two of at least 4 KiB; default 1 MiB. Bounds
   * one task's encoded arguments and result.
   */
  ringBytes?: number;
  /** Prefix of the workers' names (default `Pool-N`). */
  name?: string;
  /**
   * Replace each worker after it has run this many tasks (Python's
   * `maxtasksperchild`; default: never). An integer ≥ 1.
   */
  maxTasksPerWorker?: number;
}

/**
 * Callbacks of {@linkcode Pool.applyAsync}.
 *
 * @example
 * ```ts ignore
 * import { type ApplyAsyncOptions, Pool } from "@concur/shm";
 *
 * await using pool = new Pool({ module: new URL("./squares.ts", import.meta.url), size: 2 });
 * const options: ApplyAsyncOptions<number> = {
 *   callback: (value) => console.log("done", value), // "done" 49
 *   errorCallback: (error) => console.error(error),
 * };
 * await pool.applyAsync<number>("square", [7], options).wait();
 * ```
 */
export interface ApplyAsyncOptions<T> {
  /** Called once with the value, before the result becomes ready. */
  callback?: (value: T) => void;
  /** Called once with the error, before the result becomes ready. */
  errorCallback?: (error: unknown) => void;
}

/**
 * The pending result of {@linkcode Pool.applyAsync} (Python's `AsyncResult`).
 *
 * @example
 * ```ts ignore
 * const result = pool.applyAsync<number>("square", [7]);
 * console.log(result.ready()); // false (probably)
 * console.log(await result.get({ timeout: 1000 })); // 49
 * console.log(result.successful()); // true
 * ```
 */
export class AsyncResult<T> {
  readonly #promise: Promise<T>;
  #state: "pending" | "fulfilled" | "rejected" = "pending";

  /** @internal */
  constructor(promise: Promise<T>) {
    this.#promise = promise;
    promise.then(
      () => (this.#state = "fulfilled"),
      () => (this.#state = "rejected"),
    );
  }

  /**
   * Whether the task has finished (and its callback has run).
   *
   * @example
   * ```ts ignore
   * const r = pool.applyAsync("square", [3]);
   * await r.wait();
   * console.log(r.ready()); // true
   * ```
   */
  ready(): boolean {
    return this.#state !== "pending";
  }

  /**
   * Whether the task succeeded.
   *
   * @throws {ConcurrencyError} If the result is not ready yet.
   *
   * @example
   * ```ts ignore
   * await r.wait();
   * console.log(r.successful()); // true
   * ```
   */
  successful(): boolean {
    if (this.#state === "pending") {
      throw new ConcurrencyError("Cannot tell whether the task succeeded: it is not ready");
    }
    return this.#state === "fulfilled";
  }

  /**
   * The task's value.
   *
   * @param options `timeout` in ms (default: forever) and an abort `signal`.
   * @returns The value the task returned.
   * @throws {TimeoutError} If the timeout expires first (the task goes on).
   * @throws {RemoteError} What the task threw (or `WorkerDiedError`, `ClosedError`).
   *
   * @example
   * ```ts ignore
   * console.log(await pool.applyAsync("square", [4]).get({ timeout: 1000 })); // 16
   * ```
   */
  async get(options?: AsyncWaitOptions): Promise<T> {
    const timeout = normalizeTimeout(options?.timeout);
    const value = await waitWithin(this.#promise, timeout, options?.signal);
    if (value === TIMED_OUT) {
      throw new TimeoutError(`Cannot get result: timed out after ${timeout} ms`);
    }
    return value;
  }

  /**
   * Waits until the result is ready, or the timeout.
   *
   * @param options `timeout` in ms and an abort `signal`.
   * @returns Whether it is ready.
   *
   * @example
   * ```ts ignore
   * if (!(await r.wait({ timeout: 100 }))) console.log("still running");
   * ```
   */
  async wait(options?: AsyncWaitOptions): Promise<boolean> {
    try {
      await this.get(options);
    } catch (error) {
      if (error instanceof TimeoutError) return false;
      if (options?.signal?.aborted && error === options.signal.reason) throw error;
    }
    return true;
  }
}

interface Pending {
  /** The export the task runs (for messages). */
  fn: string;
  resolve(value: unknown): void;
  reject(error: unknown): void;
  /** The encoded task, kept to re-queue it if a worker dies before starting it. */
  record: PendingRecord;
}

const RUNNING = 0;
const CLOSED = 1;
const TERMINATED = 2;

let pools = 0;

/**
 * A pool of worker threads running exported functions of one module:
 * `apply`, `applyAsync` (with callbacks), `map` / `starmap` (input order),
 * `imap` (input order, lazily) and `imapUnordered` (completion order),
 * `close` + `join`, `terminate`, and `await using` (close, then join).
 *
 * Tasks travel through a shared-memory ring that every worker pops from, and
 * results through another: no `postMessage` per task. Task arguments and
 * results are encoded with V8's serializer (structured-clone values, but no
 * `SharedArrayBuffer`s: pass primitives to workers with
 * {@linkcode PoolOptions.initializer} / `initArgs`).
 *
 * Failure rules (where Python's Pool hangs):
 * - a task that throws rejects its own result with a `RemoteError` (remote
 *   stack as `cause`; `remoteName` is the error's `name`, or its class's
 *   name when `name` is the inherited "Error"; own enumerable data
 *   properties that structured clone carries, up to 16 and 4 KiB, are copied
 *   onto it); the pool goes on;
 * - a value too large for the result ring (`ringBytes`) rejects its own
 *   result with a `RangeError` (Python's `MaybeEncodingError`); the worker
 *   goes on. Arguments too large for the task ring are a `RangeError` at
 *   submit, and arguments that would not arrive as themselves (a primitive,
 *   a `Pool`, a `WorkerProcess`) a `TypeError` at submit;
 * - a worker that dies during a task (including a task that calls
 *   `Deno.exit`) rejects that task with `WorkerDiedError` and is replaced:
 *   no result stays pending forever;
 * - a callback that throws rejects that result with the callback's error;
 *   later results are unaffected;
 * - `terminate()` rejects every pending task with `ClosedError`.
 *
 * Pool workers are daemons: a program that forgets to close its pool still
 * ends once its own work (including awaiting results) is done.
 *
 * @example
 * ```ts ignore
 * // squares.ts
 * import { isMainThread, Pool } from "@concur/shm";
 *
 * export function square(x: number): number {
 *   return x * x;
 * }
 *
 * if (isMainThread()) {
 *   await using pool = new Pool({ module: import.meta.url, size: 4 });
 *   console.log(await pool.apply("square", [5])); // 25
 *   console.log(await pool.map("square", [1, 2, 3])); // [1, 4, 9]
 *   for await (const y of pool.imapUnordered("square", [4, 5])) console.log(y);
 * }
 * ```
 */
export class Pool implements AsyncDisposable {
  /**
   * Number of workers.
   *
   * @example
   * ```ts ignore
   * console.log(new Pool({ module: import.meta.url, size: 3 }).size); // 3
   * ```
   */
  readonly size: number;
  readonly #module: URL;
  readonly #initializer: string;
  readonly #initArgs: readonly unknown[];
  readonly #name: string;
  readonly #maxTasks: number;
  readonly #tasks: TaskRing;
  readonly #results: TaskRing;
  readonly #workers: (WorkerProcess | undefined)[];
  readonly #pending = new Map<number, Pending>();
  #backlog: PendingRecord[] = [];
  #backlogHead = 0;
  #flushScheduled = false;
  readonly #received: RingRecord[] = [];
  #nextId = 0;
  #state = RUNNING;
  #collecting = false;
  #idle: PromiseWithResolvers<void> | undefined;
  #deathsWithoutProgress = 0;
  #brokenCause: unknown;

  /**
   * Starts the workers.
   *
   * @param options Module, size, initializer...
   * @throws {RangeError} If `size` is not an integer in [1, 1024], or `ringBytes` not one in [64, 2^30].
   * @throws {TypeError} If `module` is not an absolute URL, or `initArgs`
   * holds something that cannot reach a worker as itself (a `Pool`, a
   * `WorkerProcess`, a primitive inside a `Map` or `Set`).
   */
  constructor(options: PoolOptions) {
    const size = options.size ?? navigator.hardwareConcurrency ?? 1;
    if (!Number.isInteger(size) || size < 1 || size > MAX_CONSUMERS) {
      throw new RangeError(
        `Cannot create pool: the number of workers must be an integer in [1, ${MAX_CONSUMERS}], received ${size}`,
      );
    }
    this.size = size;
    const maxTasks = options.maxTasksPerWorker;
    if (maxTasks !== undefined && (!Number.isInteger(maxTasks) || maxTasks < 1)) {
      throw new RangeError(
        `Cannot create pool: maxTasksPerWorker must be an integer >= 1, received ${maxTasks}`,
      );
    }
    this.#maxTasks = maxTasks ?? 0;
    this.#module = toModuleUrl(options.module);
    this.#initializer = options.initializer ?? "";
    this.#initArgs = options.initArgs ?? [];
    // Checked once here, before any worker starts (each start would throw it).
    assertSendable(
      this.#initArgs,
      "initArgs",
      "revived",
      "Cannot create pool",
      "primitives arrive revived only in arrays and plain objects (put it in one)",
    );
    this.#name = options.name ?? `Pool-${++pools}`;
    const ringBytes = options.ringBytes ?? 1 << 20;
    if (!Number.isInteger(ringBytes) || ringBytes < 64 || ringBytes > 1 << 30) {
      throw new RangeError(
        `Cannot create pool: ringBytes must be an integer in [64, 2^30], received ${ringBytes}`,
      );
    }
    this.#tasks = TaskRing.create(ringBytes);
    this.#results = TaskRing.create(ringBytes);
    this.#workers = new Array(size).fill(undefined);
    for (let slot = 0; slot < size; slot++) this.#spawn(slot);
  }

  #spawn(slot: number): void {
    const worker = WorkerProcess._forPool(
      this.#module,
      this.#initializer,
      this.#initArgs,
      `${this.#name}-worker-${slot}`,
      {
        tasks: this.#tasks.memory.handle(),
        results: this.#results.memory.handle(),
        slot,
        size: this.size,
        maxTasks: this.#maxTasks,
      },
      (process) => this.#onWorkerExit(slot, process),
    );
    this.#workers[slot] = worker;
    worker.start();
  }

  #onWorkerExit(slot: number, process: WorkerProcess): void {
    if (this.#workers[slot] !== process) return;
    this.#workers[slot] = undefined;
    this.#drain();
    // Claimed tasks it started lost their results: they fail. The others
    // never started: they are queued again.
    const { started, unstarted } = this.#tasks.claims(slot);
    this.#tasks.releaseAll(slot);
    for (const id of started) {
      const entry = this.#pending.get(id);
      if (entry === undefined) continue;
      this.#pending.delete(id);
      entry.reject(
        new WorkerDiedError(
          `Cannot complete task ${id}: pool worker ${process.name} died while running it (exit code ${process.exitCode})`,
          { cause: process.error },
        ),
      );
    }
    const requeue = unstarted.flatMap((id) => this.#pending.get(id)?.record ?? []);
    if (requeue.length > 0) {
      this.#backlog = [...requeue, ...this.#backlog.slice(this.#backlogHead)];
      this.#backlogHead = 0;
      this.#flush();
    }
    this.#results.wakeAll(); // the collector re-checks what is pending
    if (this.#state === TERMINATED) return;
    // After close(), a worker that ended normally is replaced only while
    // tasks still wait to be claimed (it retired after maxTasksPerWorker):
    // close() stops submissions, not the tasks already submitted. Tasks
    // claimed by live workers need no new worker; if one of those dies, its
    // own exit re-queues them and replaces it.
    if (this.#state === CLOSED && process.exitCode === 0 && !this.#hasUnclaimedTasks()) return;
    // A worker that retired (maxTasksPerWorker) is simply replaced; one that
    // failed counts towards giving up if workers keep dying before any result.
    if (process.exitCode !== 0 && ++this.#deathsWithoutProgress > 2 * this.size + 2) {
      // Workers die before finishing anything (bad module or initializer): stop.
      this.#brokenCause = process.error;
      this.#failAll(
        () =>
          new WorkerDiedError(
            `Cannot run tasks: pool workers keep dying (${process.name}: ${process.error?.message})`,
            { cause: process.error },
          ),
      );
      void this.terminate();
      return;
    }
    this.#spawn(slot);
  }

  /** Whether submitted tasks wait in the ring or the backlog (not yet claimed by a worker). */
  #hasUnclaimedTasks(): boolean {
    return this.#tasks.count > 0 || this.#backlogHead < this.#backlog.length;
  }

  #failAll(error: () => unknown): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    this.#backlog = [];
    this.#backlogHead = 0;
    for (const entry of pending) entry.reject(error());
    this.#results.wakeAll();
  }

  /** Resolves or rejects every finished task; returns how many. */
  #drain(): number {
    const received = this.#received;
    let total = 0;
    for (;;) {
      received.length = 0;
      const count = this.#results.tryPopMany(Infinity, -1, received);
      if (count === 0) break;
      total += count;
      for (const record of received) {
        const entry = this.#pending.get(record.id);
        if (entry === undefined) continue;
        this.#pending.delete(record.id);
        try {
          const value = decodeValue(record.tag, record.payload);
          if ((record.tag & RESULT_TOO_LARGE) !== 0) {
            entry.reject(
              new RangeError(
                `Cannot return the result of task "${entry.fn}": its ${value} encoded bytes exceed the result ring's ${this.#results.maxPayload} (raise ringBytes)`,
              ),
            );
          } else if ((record.tag & RESULT_ERROR) === 0) entry.resolve(value);
          else entry.reject(remoteErrorOf(value as ErrorRecord));
        } catch (error) {
          entry.reject(error);
        }
      }
    }
    received.length = 0;
    if (total > 0) this.#deathsWithoutProgress = 0;
    return total;
  }

  /** Moves queued tasks into the shared ring, as many as fit, in one batch. */
  #flush(): void {
    this.#flushScheduled = false;
    if (this.#backlogHead < this.#backlog.length) {
      this.#backlogHead += this.#tasks.tryPushMany(this.#backlog, this.#backlogHead);
      if (this.#backlogHead < this.#backlog.length) return; // full: the collector retries
    }
    this.#backlog = [];
    this.#backlogHead = 0;
    if (this.#state === CLOSED) this.#tasks.close();
  }

  async #collect(): Promise<void> {
    if (this.#collecting) return;
    this.#collecting = true;
    const release = holdEventLoop(); // results are awaited: keep the program alive
    try {
      while (this.#pending.size > 0) {
        this.#drain();
        this.#flush();
        if (this.#pending.size === 0) break;
        if (this.#results.count === 0) {
          // Yield to let callers' continuations run before sleeping.
          await this.#results.waitForRecord();
        }
      }
    } finally {
      release();
      this.#collecting = false;
      this.#idle?.resolve();
      this.#idle = undefined;
    }
  }

  #submit(fn: string, args: readonly unknown[]): Promise<unknown> {
    if (this.#state !== RUNNING) {
      throw new ClosedError(`Cannot submit task "${fn}": the pool is not running`);
    }
    if (typeof fn !== "string") {
      throw new TypeError(`Cannot submit task: fn must be an export name, received ${typeof fn}`);
    }
    const { flags, bytes: encoded } = encodeValue([fn, args]);
    // Only the structured path can meet objects that would arrive as
    // something else (a primitive or a pool becomes a plain object): JSON-safe
    // values are plain data by construction.
    if ((flags & STRUCTURED) !== 0) {
      assertSendable(
        args,
        "args",
        "nowhere",
        `Cannot submit task "${fn}"`,
        "task arguments cannot carry primitives (pass them to the workers with initArgs)",
      );
    }
    if (encoded.length > this.#tasks.maxPayload) {
      throw new RangeError(
        `Cannot submit task "${fn}": its ${encoded.length} encoded bytes exceed the ring's ${this.#tasks.maxPayload} (raise ringBytes)`,
      );
    }
    const id = (this.#nextId = (this.#nextId % 0x7fffffff) + 1);
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    const record = { id, tag: flags, payload: encoded.slice() };
    this.#pending.set(id, { fn, resolve, reject, record });
    // Tasks submitted in one synchronous burst reach the ring in one batch.
    this.#backlog.push(record);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(() => this.#flush());
    }
    if (!this.#collecting) void this.#collect();
    return promise;
  }

  /**
   * Runs `fn(...args)` in a worker and resolves with its value.
   *
   * @param fn Name of an export of the pool's module.
   * @param args Its arguments.
   * @returns What the task returned (awaited if it returned a promise).
   * @throws {ClosedError} If the pool was closed or terminated.
   * @throws {RemoteError} What the task threw.
   * @throws {WorkerDiedError} If its worker died during the task.
   * @throws {RangeError} If the encoded arguments or value exceed `ringBytes`.
   * @throws {TypeError} If `args` holds a primitive, a `Pool` or a
   * `WorkerProcess` (or anything structured clone refuses).
   *
   * @example
   * ```ts ignore
   * console.log(await pool.apply("add", [2, 3])); // 5
   * ```
   */
  apply<T = unknown>(fn: string, args: readonly unknown[] = []): Promise<T> {
    try {
      return this.#submit(fn, args) as Promise<T>;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Submits `fn(...args)`; `callback` / `errorCallback` run once when it
   * finishes, before the result is ready. If a callback throws, the result
   * rejects with that error (later results are unaffected).
   *
   * @param fn Name of an export of the pool's module.
   * @param args Its arguments.
   * @param options `callback` and `errorCallback`.
   * @returns The pending result.
   * @throws {ClosedError} If the pool was closed or terminated.
   * @throws {RangeError} If the encoded arguments exceed `ringBytes`.
   * @throws {TypeError} If `args` cannot be sent (see {@linkcode Pool.apply}).
   *
   * @example
   * ```ts ignore
   * const r = pool.applyAsync<number>("square", [5], {
   *   callback: (v) => console.log("done", v),
   *   errorCallback: (e) => console.error(e),
   * });
   * await r.get(); // 25
   * ```
   */
  applyAsync<T = unknown>(
    fn: string,
    args: readonly unknown[] = [],
    options?: ApplyAsyncOptions<T>,
  ): AsyncResult<T> {
    const task = this.#submit(fn, args) as Promise<T>;
    const settled = task.then(
      (value) => {
        options?.callback?.(value);
        return value;
      },
      (error) => {
        options?.errorCallback?.(error);
        throw error;
      },
    );
    settled.catch(() => {}); // rejection is delivered through get()
    return new AsyncResult(settled);
  }

  /**
   * Runs `fn(item)` for every item; resolves with the values in input order.
   * If tasks fail, it still waits for all of them, then rejects with the
   * first failure in input order (an error iterating `items` comes after
   * the tasks submitted before it).
   *
   * @param fn Name of an export of the pool's module.
   * @param items One argument per task.
   * @returns The values, in input order.
   *
   * @example
   * ```ts ignore
   * console.log(await pool.map("square", [1, 2, 3])); // [1, 4, 9]
   * ```
   */
  map<T = unknown>(fn: string, items: Iterable<unknown>): Promise<T[]> {
    return this.starmap<T>(fn, mapArgs(items));
  }

  /**
   * Like {@linkcode Pool.map} with each item spread as the arguments.
   *
   * @param fn Name of an export of the pool's module.
   * @param argsList The arguments of each task.
   * @returns The values, in input order.
   *
   * @example
   * ```ts ignore
   * console.log(await pool.starmap("add", [[1, 2], [3, 4]])); // [3, 7]
   * ```
   */
  async starmap<T = unknown>(fn: string, argsList: Iterable<readonly unknown[]>): Promise<T[]> {
    const tasks: Promise<unknown>[] = [];
    const stopped = this.#submitAll(fn, argsList, (task) => tasks.push(task));
    const settled = await Promise.allSettled(tasks);
    const failed = settled.find((s) => s.status === "rejected");
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
    // The input failed after the last submitted task: that is its position.
    if (stopped !== undefined) throw stopped.error;
    return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
  }

  /**
   * Submits `fn(...args)` for each item of `argsList`, handing each task to
   * `add`. If the input (or a submission) throws partway, the tasks submitted
   * before it go on and the error is returned, to be delivered at its
   * position, after them (Python's `imap` does the same).
   */
  #submitAll(
    fn: string,
    argsList: Iterable<readonly unknown[]>,
    add: (task: Promise<unknown>) => void,
  ): { error: unknown } | undefined {
    try {
      for (const args of argsList) add(this.#submit(fn, args));
    } catch (error) {
      return { error };
    }
    return undefined;
  }

  /**
   * Submits `fn(item)` for every item and yields the values in input order,
   * as soon as each next one is ready. A failed task throws at its position;
   * so does `items` if iterating it throws (after the values before it).
   *
   * @param fn Name of an export of the pool's module.
   * @param items One argument per task.
   * @returns An async iterator over the values.
   *
   * @example
   * ```ts ignore
   * for await (const y of pool.imap("square", [1, 2, 3])) console.log(y); // 1, 4, 9
   * ```
   */
  async *imap<T = unknown>(fn: string, items: Iterable<unknown>): AsyncGenerator<T> {
    const tasks: Promise<unknown>[] = [];
    const stopped = this.#submitAll(fn, mapArgs(items), (task) => {
      task.catch(() => {}); // delivered in order below
      tasks.push(task);
    });
    for (const task of tasks) yield (await task) as T;
    if (stopped !== undefined) throw stopped.error;
  }

  /**
   * Submits `fn(item)` for every item and yields the values in completion
   * order (Python's `imap_unordered`). A failed task throws when its turn
   * comes; if iterating `items` throws, that error comes after the values of
   * the tasks submitted before it.
   *
   * @param fn Name of an export of the pool's module.
   * @param items One argument per task.
   * @returns An async iterator over the values.
   *
   * @example
   * ```ts ignore
   * for await (const y of pool.imapUnordered("square", [1, 2, 3])) console.log(y); // any order
   * ```
   */
  async *imapUnordered<T = unknown>(fn: string, items: Iterable<unknown>): AsyncGenerator<T> {
    const done: PromiseSettledResult<unknown>[] = [];
    let wake: (() => void) | undefined;
    let total = 0;
    const stopped = this.#submitAll(fn, mapArgs(items), (task) => {
      total++;
      task.then(
        (value) => done.push({ status: "fulfilled", value }),
        (reason) => done.push({ status: "rejected", reason }),
      ).finally(() => wake?.());
    });
    for (let yielded = 0; yielded < total; yielded++) {
      while (done.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      const next = done.shift()!;
      if (next.status === "rejected") throw next.reason;
      yield next.value as T;
    }
    if (stopped !== undefined) throw stopped.error;
  }

  /**
   * Stops accepting tasks; those already submitted still run, and the
   * workers exit once the queue is drained. Idempotent.
   *
   * @example
   * ```ts ignore
   * pool.close();
   * await pool.join();
   * ```
   */
  close(): void {
    if (this.#state !== RUNNING) return;
    this.#state = CLOSED;
    if (this.#backlogHead >= this.#backlog.length) this.#tasks.close();
  }

  /**
   * Waits for every submitted task and for the workers to exit. Call
   * {@linkcode Pool.close} (or {@linkcode Pool.terminate}) first.
   *
   * @param options `timeout` in ms (default: forever) and an abort `signal`:
   * they end this wait only; the tasks go on (call `terminate()` to stop them).
   * @returns `true` once joined, `false` if the timeout expired first.
   * @throws {ConcurrencyError} If the pool is still running.
   * @throws The signal's reason, if it aborts first.
   *
   * @example
   * ```ts ignore
   * const results = pool.map("square", [1, 2]);
   * pool.close();
   * await pool.join({ timeout: 10_000 }); // true: the two tasks are done, the workers gone
   * ```
   */
  async join(options?: AsyncWaitOptions): Promise<boolean> {
    if (this.#state === RUNNING) {
      throw new ConcurrencyError("Cannot join pool: it is still running (close() it first)");
    }
    const timeout = normalizeTimeout(options?.timeout);
    options?.signal?.throwIfAborted();
    return await waitWithin(this.#joinAll(), timeout, options?.signal) !== TIMED_OUT;
  }

  /** Waits for every submitted task, then for the workers to exit. */
  async #joinAll(): Promise<void> {
    while (this.#pending.size > 0) {
      this.#idle ??= Promise.withResolvers<void>();
      if (!this.#collecting) void this.#collect();
      await this.#idle.promise;
    }
    if (this.#state === CLOSED) this.#tasks.close();
    await Promise.all(
      this.#workers.map((worker) => worker?.joinAsync()),
    );
  }

  /**
   * Stops the workers now (cooperatively, then by force) and rejects every
   * pending task with `ClosedError`. Resolves once the workers are gone.
   *
   * @example
   * ```ts ignore
   * await pool.terminate();
   * ```
   */
  async terminate(): Promise<void> {
    const wasTerminated = this.#state === TERMINATED;
    this.#state = TERMINATED;
    if (!wasTerminated) {
      this.#failAll(() =>
        this.#brokenCause === undefined
          ? new ClosedError("Cannot complete task: the pool was terminated")
          : new WorkerDiedError("Cannot complete task: the pool broke", {
            cause: this.#brokenCause,
          })
      );
    }
    const workers = this.#workers.filter((w): w is WorkerProcess => w !== undefined);
    for (const worker of workers) worker.terminate();
    await Promise.all(workers.map((worker) => worker.joinAsync()));
  }

  /**
   * `close()` then `join()`: submitted tasks finish, then the workers exit.
   *
   * @example
   * ```ts ignore
   * {
   *   await using pool = new Pool({ module: import.meta.url });
   *   await pool.map("square", [1, 2, 3]);
   * } // closed and joined here
   * ```
   */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.join();
  }
}

// A pool is local to its thread: structured clone would send an inert copy.
Object.defineProperty(Pool.prototype, NOT_SENDABLE, { value: "a Pool" });

function* mapArgs(items: Iterable<unknown>): Iterable<unknown[]> {
  for (const item of items) yield [item];
}
