/**
 * `WorkerProcess`: run an exported function of your module in a worker
 * thread, with Python `multiprocessing.Process` semantics.
 *
 * @module
 */

import { isMainThread as nodeIsMainThread, Worker as NodeWorker } from "node:worker_threads";
import type { SabMemory } from "../shm/sab_memory.ts";
import {
  livenessHandle,
  markOwnerDead,
  ownerIssuerConfig,
  registerOwner,
} from "../shm/liveness.ts";
import { Deadline, normalizeTimeout, type WaitOptions } from "../shm/timeout.ts";
import type { AsyncWaitOptions } from "../shm/timeout.ts";
import { ConcurrencyError, type RemoteError } from "../primitives/errors.ts";
import {
  createControl,
  errorOf,
  exitCodeOf,
  EXITED,
  finishControl,
  hasExited,
  INTERRUPT,
  START_MARKER,
  type StartData,
  STATE,
  TERMINATED_EXIT_CODE,
} from "./_control.ts";
import { DONE_MESSAGE, READY_MESSAGE, WEB_WORKER_PREFIX } from "./_runtime.ts";
import { assertSendable, NOT_SENDABLE, toTransferable } from "./revive.ts";

export { TERMINATED_EXIT_CODE } from "./_control.ts";

/**
 * `exitCode` of a worker stopped with `kill()` (Python reports `-SIGKILL`, -9).
 *
 * @example
 * ```ts ignore
 * import { KILLED_EXIT_CODE, WorkerProcess } from "@concur/shm";
 *
 * const worker = new WorkerProcess({ module: import.meta.url, fn: "spinForever" });
 * worker.start();
 * worker.kill(); // stopped at once, without unwinding
 * await worker.joinAsync();
 * console.log(worker.exitCode === KILLED_EXIT_CODE); // true
 * ```
 */
export const KILLED_EXIT_CODE: number = -9;
export { type WorkerInfo, workerInfo } from "./_runtime.ts";

/** How long a (web) worker may take to load its module and answer. */
const WEB_STARTUP_TIMEOUT_MS = 60_000;

/** What the handle needs of either kind of worker. */
interface ThreadWorker {
  terminate(): void;
}

/**
 * How long `terminate()` lets a worker unwind cooperatively before it is
 * stopped by force.
 *
 * @example
 * ```ts ignore
 * import { TERMINATE_GRACE_MS, WorkerProcess } from "@concur/shm";
 *
 * const worker = new WorkerProcess({ module: import.meta.url, fn: "longTask" });
 * worker.start();
 * worker.terminate(); // asks it to unwind; stopped by force after TERMINATE_GRACE_MS
 * console.log(await worker.joinAsync({ timeout: TERMINATE_GRACE_MS + 1000 })); // true
 * ```
 */
export const TERMINATE_GRACE_MS: number = 500;

/**
 * Options of {@linkcode WorkerProcess}.
 *
 * @example
 * ```ts ignore
 * // tasks.ts
 * import { Event, isMainThread, WorkerProcess, type WorkerProcessOptions } from "@concur/shm";
 *
 * export function waitForGo(go: Event): boolean {
 *   return go.wait({ timeout: 5000 });
 * }
 *
 * if (isMainThread()) {
 *   const go = new Event();
 *   const options: WorkerProcessOptions = {
 *     module: import.meta.url,
 *     fn: "waitForGo",
 *     args: [go], // arrives revived as an Event
 *     name: "waiter",
 *   };
 *   const worker = new WorkerProcess(options);
 *   worker.start();
 *   go.set();
 *   await worker.joinAsync();
 *   console.log(worker.exitCode); // 0
 * }
 * ```
 */
export interface WorkerProcessOptions {
  /**
   * URL of the module whose exported function runs: usually
   * `import.meta.url` of the calling module. The module must import this
   * library (`@concur/shm`), which runs the task in the worker.
   */
  module: string | URL;
  /** Name of the exported function to call (sync or async). */
  fn: string;
  /**
   * Arguments (structured-cloneable). Primitives of this module may appear
   * anywhere in them (in arrays and plain objects): they arrive revived.
   */
  args?: readonly unknown[];
  /** A name for the worker (default `WorkerProcess-N`). */
  name?: string;
  /**
   * A daemon worker does not keep the program alive: it is stopped when the
   * main program's own work ends. A non-daemon worker (default) is waited for.
   */
  daemon?: boolean;
}

let created = 0;

/**
 * A function of your module running in its own worker thread (Python's
 * `multiprocessing.Process`): `start()`, `join({ timeout })` /
 * `joinAsync()`, `terminate()`, `isAlive`, `exitCode`, `name`, `daemon`.
 *
 * The worker runs YOUR module (`module`, usually `import.meta.url`) and calls
 * its export `fn` with `args`. That module must import this library (any
 * import of `@concur/shm` will do: it carries the worker side); a worker whose
 * module does not is reported dead (exit code 1) — at once for a daemon,
 * after 60 s otherwise. Non-daemon workers are web `Worker`s; daemons are
 * `node:worker_threads` workers, the only kind that can be unref'd. Primitives in `args` arrive as working
 * primitives. Like Python's `if __name__ == "__main__"`, guard the main
 * program's own code with {@linkcode isMainThread} when the tasks live in the
 * same file, since the worker evaluates the whole module.
 *
 * `exitCode` is `null` while running, `0` when `fn` returned, `1` when it
 * threw (the error, with its remote stack, is {@linkcode WorkerProcess.error}),
 * `n` when the task called `Deno.exit(n)` or `process.exit(n)` (which end
 * the worker thread, not the program), {@linkcode TERMINATED_EXIT_CODE}
 * (-15) after `terminate()`, and {@linkcode KILLED_EXIT_CODE} (-9) after
 * `kill()`.
 *
 * Termination is cooperative first: every wait of this module in the worker
 * (locks, queues, events...) throws `TerminatedError` within ~50 ms, so the
 * task unwinds and its `using` guards release; after
 * {@linkcode TERMINATE_GRACE_MS} a worker that did not end (busy in its own
 * code, or awaiting something else) is stopped by force. Locks it still
 * holds are then taken over by the next locker with `ownerDied` set. Not
 * stoppable: a worker spinning in JavaScript without waiting (a hot loop)
 * keeps running until it next waits, even after the forced stop (an engine
 * limit in Deno 2.9); a daemon, though, never keeps the program alive.
 *
 * @example Run a task with a lock
 * ```ts ignore
 * // tasks.ts
 * import { isMainThread, Mutex, WorkerProcess } from "@concur/shm";
 *
 * export function work(lock: Mutex, counter: Int32Array, n: number) {
 *   for (let i = 0; i < n; i++) lock.withLock(() => counter[0]++);
 * }
 *
 * if (isMainThread()) {
 *   const lock = new Mutex();
 *   const counter = new Int32Array(new SharedArrayBuffer(4));
 *   const workers = [1, 2].map(() =>
 *     new WorkerProcess({ module: import.meta.url, fn: "work", args: [lock, counter, 1000] })
 *   );
 *   for (const w of workers) w.start();
 *   for (const w of workers) await w.joinAsync();
 *   console.log(counter[0], workers.map((w) => w.exitCode)); // 2000 [0, 0]
 * }
 * ```
 */
export class WorkerProcess implements AsyncDisposable {
  #name: string;
  readonly #module: URL;
  readonly #fn: string;
  readonly #args: readonly unknown[];
  #daemon: boolean;
  #control: SabMemory | undefined;
  #worker: ThreadWorker | undefined;
  #resolveExited: (() => void) | undefined;
  #startup: ReturnType<typeof setTimeout> | undefined;
  #reaped = false;
  #id: number | null = null;
  #terminating = false;
  #grace: ReturnType<typeof setTimeout> | undefined;
  #exited: Promise<void> | undefined;
  #onExit: ((process: WorkerProcess) => void) | undefined;
  #pool: StartData["pool"] | undefined;

  /**
   * Describes the worker; nothing runs until {@linkcode WorkerProcess.start}.
   *
   * @param options Module, function, arguments, name, daemon.
   * @throws {TypeError} If `module` is not an absolute URL or `fn` is not a string.
   */
  constructor(options: WorkerProcessOptions) {
    this.#module = toModuleUrl(options?.module);
    if (typeof options.fn !== "string") {
      throw new TypeError(
        `Cannot create worker: fn must be an export name, received ${typeof options.fn}`,
      );
    }
    this.#fn = options.fn;
    this.#args = options.args ?? [];
    if (options.name !== undefined && typeof options.name !== "string") {
      throw new TypeError(`Cannot create worker: name must be a string`);
    }
    this.#name = options.name ?? `WorkerProcess-${++created}`;
    this.#daemon = options.daemon ?? false;
  }

  /**
   * The worker's name (also visible in the worker through `workerInfo()`).
   * Settable; it reaches the worker only if set before `start()`.
   *
   * @throws {TypeError} When set to a non-string.
   *
   * @example
   * ```ts ignore
   * const w = new WorkerProcess({ module: import.meta.url, fn: "work", name: "loader" });
   * console.log(w.name); // "loader"
   * ```
   */
  get name(): string {
    return this.#name;
  }
  set name(value: string) {
    if (typeof value !== "string") {
      throw new TypeError(`Cannot set worker name: expected a string, received ${typeof value}`);
    }
    this.#name = value;
  }

  /** @internal Used by `Pool`: a pool worker loop, with an exit hook. */
  static _forPool(
    module: URL,
    initializer: string,
    initArgs: readonly unknown[],
    name: string,
    pool: NonNullable<StartData["pool"]>,
    onExit: (process: WorkerProcess) => void,
  ): WorkerProcess {
    const process = new WorkerProcess({
      module,
      fn: initializer,
      args: initArgs,
      name,
      daemon: true,
    });
    process.#pool = pool;
    process.#onExit = onExit;
    return process;
  }

  /**
   * Whether the worker is a daemon (see the options). Settable before `start()` only.
   *
   * @throws {ConcurrencyError} When set after start.
   *
   * @example
   * ```ts ignore
   * const w = new WorkerProcess({ module: import.meta.url, fn: "poll" });
   * w.daemon = true; // does not keep the program alive
   * w.start();
   * ```
   */
  get daemon(): boolean {
    return this.#daemon;
  }
  set daemon(value: boolean) {
    if (this.#control !== undefined) {
      throw new ConcurrencyError("Cannot set daemon: the worker has already started");
    }
    this.#daemon = Boolean(value);
  }

  /**
   * The worker's id (its unique owner id in locks); `null` before `start()`.
   *
   * @example
   * ```ts ignore
   * w.start();
   * console.log(typeof w.id); // "number"
   * ```
   */
  get id(): number | null {
    return this.#id;
  }

  /**
   * Whether the worker has started and not yet ended.
   *
   * @example
   * ```ts ignore
   * w.start();
   * console.log(w.isAlive); // true
   * await w.joinAsync();
   * console.log(w.isAlive); // false
   * ```
   */
  get isAlive(): boolean {
    return this.#control !== undefined && !hasExited(this.#control);
  }

  /**
   * `null` before start and while running; then 0 (returned), 1 (threw: see
   * {@linkcode WorkerProcess.error}), `n` (the task called `Deno.exit(n)` or
   * `process.exit(n)`), {@linkcode TERMINATED_EXIT_CODE} or
   * {@linkcode KILLED_EXIT_CODE}.
   *
   * @example
   * ```ts ignore
   * w.start();
   * console.log(w.exitCode); // null (running)
   * await w.joinAsync();
   * console.log(w.exitCode); // 0
   * ```
   */
  get exitCode(): number | null {
    if (this.#control === undefined || !hasExited(this.#control)) return null;
    return exitCodeOf(this.#control);
  }

  /**
   * The error the task threw (name, message, remote stack as `cause`), if it
   * did. `remoteName` is the error's `name`, or its class's name when `name`
   * is the inherited "Error"; its own enumerable data properties that
   * structured clone carries (up to 16, 4 KiB in all) are copied onto it.
   *
   * @example
   * ```ts ignore
   * await w.joinAsync();
   * if (w.exitCode === 1) console.error(w.error?.remoteName, w.error?.message, w.error?.cause);
   * ```
   */
  get error(): RemoteError | undefined {
    return this.#control === undefined ? undefined : errorOf(this.#control);
  }

  /**
   * Starts the worker.
   *
   * @throws {ConcurrencyError} If it was already started.
   * @throws {TypeError} If `args` holds something that cannot reach the
   * worker as itself: a `Pool` or `WorkerProcess` (they belong to this
   * thread), or a primitive inside a `Map` or `Set` (primitives are revived
   * in arrays and plain objects only).
   *
   * @example
   * ```ts ignore
   * const w = new WorkerProcess({ module: import.meta.url, fn: "work", args: [mutex, 10] });
   * w.start();
   * ```
   */
  start(): void {
    if (this.#control !== undefined) {
      throw new ConcurrencyError("Cannot start worker: it was already started");
    }
    assertSendable(
      this.#args,
      "args",
      "revived",
      `Cannot start worker ${this.name}`,
      "primitives arrive revived only in arrays and plain objects (put it in one)",
    );
    const control = createControl();
    const id = registerOwner();
    const data: StartData = {
      [START_MARKER]: 1,
      kind: this.#pool === undefined ? "process" : "pool",
      module: this.#module.href,
      fn: this.#fn,
      args: toTransferable([...this.#args]) as unknown[],
      ownerId: id,
      name: this.name,
      daemon: this.#daemon,
      control: control.handle(),
      liveness: livenessHandle(),
      ownerLinks: ownerIssuerConfig(),
      pool: this.#pool,
    };
    // A daemon (and a pool worker) must not keep the program alive: only
    // node:worker_threads workers can be unref'd. Other workers are web
    // Workers, which start several times faster and report their end through
    // the control block and a message (they have no exit event).
    const web = !this.#daemon && this.#pool === undefined;
    let worker: ThreadWorker;
    try {
      worker = web ? this.#startWeb(data) : this.#startNode(data);
    } catch (err) {
      markOwnerDead(id);
      throw err;
    }
    this.#control = control;
    this.#id = id;
    this.#worker = worker;
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#exited = promise;
    this.#resolveExited = resolve;
  }

  #startNode(data: StartData): ThreadWorker {
    const worker = new NodeWorker(this.#module, { workerData: data, name: this.name });
    if (this.#daemon) worker.unref();
    worker.on("message", (message: unknown) => {
      if (message === DONE_MESSAGE) void worker.terminate();
    });
    worker.on("error", (error: Error) => this.#crashed(error?.name, error?.message, error?.stack));
    worker.on("exit", (code: number) => this.#reap(code));
    return { terminate: () => void worker.terminate() };
  }

  #startWeb(data: StartData): ThreadWorker {
    const worker = new Worker(this.#module, {
      type: "module",
      name: WEB_WORKER_PREFIX + this.name,
    });
    const stop = () => {
      clearTimeout(this.#startup);
      worker.terminate();
      this.#reap(); // a terminated web Worker is gone: there is no exit event
    };
    worker.onmessage = (event: MessageEvent) => {
      if (event.data === READY_MESSAGE) clearTimeout(this.#startup);
      else if (event.data === DONE_MESSAGE) stop();
    };
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault(); // else the parent dies of the worker's error
      this.#crashed("Error", event.message, "");
      stop();
    };
    // The module runs the task only if it imports this library (which answers
    // READY at once); a module that does not would leave the worker idle forever.
    this.#startup = setTimeout(() => {
      this.#crashed(
        "WorkerDiedError",
        `Worker ${this.name} did not start within ${WEB_STARTUP_TIMEOUT_MS} ms (does its module import @concur/shm?)`,
        "",
      );
      stop();
    }, WEB_STARTUP_TIMEOUT_MS);
    worker.postMessage(data);
    return { terminate: stop };
  }

  /** The worker failed outside its task (module error, uncaught error). */
  #crashed(name: string | undefined, message: string | undefined, stack: string | undefined): void {
    finishControl(this.#control!, 1, {
      name: name ?? "Error",
      message: message ?? "worker error",
      stack: stack ?? "",
    });
  }

  /**
   * The thread is gone: final bookkeeping (once). `threadExitCode` is the
   * node:worker_threads exit code (1 when stopped or crashed; the argument of
   * `process.exit` or `Deno.exit` called outside the task, which the worker
   * could not report itself).
   */
  #reap(threadExitCode?: number): void {
    if (this.#reaped) return;
    this.#reaped = true;
    clearTimeout(this.#grace);
    this.#grace = undefined;
    clearTimeout(this.#startup);
    markOwnerDead(this.#id!);
    const exited = typeof threadExitCode === "number" && threadExitCode !== 0 &&
      threadExitCode !== 1;
    finishControl(
      this.#control!,
      this.#terminating ? TERMINATED_EXIT_CODE : exited ? threadExitCode : 1,
      this.#terminating ? undefined : {
        name: "WorkerDiedError",
        message: exited
          ? `Worker ${this.name} exited with code ${threadExitCode} before its task ran`
          : `Worker ${this.name} ended without reporting (did its module import @concur/shm?)`,
        stack: "",
      },
    );
    this.#resolveExited?.();
    this.#onExit?.(this);
  }

  /**
   * Asks the worker to stop: its waits throw `TerminatedError` (so it unwinds
   * and releases its guards); after {@linkcode TERMINATE_GRACE_MS} it is
   * stopped by force. Returns at once; `joinAsync()` waits for the end.
   * Does nothing if the worker is not running.
   *
   * @example
   * ```ts ignore
   * w.terminate();
   * await w.joinAsync();
   * console.log(w.exitCode === TERMINATED_EXIT_CODE); // true
   * ```
   */
  terminate(): void {
    const control = this.#control;
    if (control === undefined || hasExited(control) || this.#terminating) return;
    this.#terminating = true;
    control.store(INTERRUPT, 1);
    control.notify(INTERRUPT);
    this.#grace = setTimeout(() => this.#forceStop(), TERMINATE_GRACE_MS);
  }

  #forceStop(exitCode: number = TERMINATED_EXIT_CODE): void {
    clearTimeout(this.#grace);
    this.#grace = undefined;
    const control = this.#control!;
    // Dead before EXITED is visible (a joiner that sees the end can take the
    // locks over); and the end is claimed before the thread is touched, since
    // stopping it may make it report its own end.
    markOwnerDead(this.#id!);
    finishControl(control, exitCode);
    this.#worker!.terminate();
  }

  /**
   * Stops the worker at once, with no cooperative phase (Python's `kill()`):
   * the task does not unwind, so its `finally` blocks do not run; locks it
   * holds are taken over by their next locker with `ownerDied` set. The exit
   * code is {@linkcode KILLED_EXIT_CODE} (-9). Does nothing if the worker is
   * not running. The interrupt is raised too, so a thread the engine cannot
   * stop at once (blocked in a wait) ends at its next wait slice; its guards
   * then release only locks it still owns.
   *
   * @example
   * ```ts ignore
   * w.kill();
   * console.log(w.exitCode); // -9
   * ```
   */
  kill(): void {
    const control = this.#control;
    if (control === undefined || hasExited(control)) return;
    this.#terminating = true;
    this.#forceStop(KILLED_EXIT_CODE);
    control.store(INTERRUPT, 1);
    control.notify(INTERRUPT);
  }

  /**
   * Blocks the calling thread until the worker ends (or the timeout). On the
   * main thread prefer {@linkcode WorkerProcess.joinAsync}: a blocked event
   * loop cannot run the forced stop of `terminate()`.
   *
   * @param options `timeout` in ms (default: forever; negative: poll).
   * @returns Whether the worker has ended.
   * @throws {ConcurrencyError} If the worker was never started.
   *
   * @example In a worker that started its own worker
   * ```ts ignore
   * if (!child.join({ timeout: 1000 })) child.terminate();
   * ```
   */
  join(options?: WaitOptions): boolean {
    const control = this.#started("join");
    const deadline = new Deadline(normalizeTimeout(options?.timeout));
    for (;;) {
      const state = control.load(STATE);
      if (state === EXITED) return true;
      const remaining = deadline.remaining();
      if (remaining === 0) return false;
      control.wait(STATE, state, remaining);
    }
  }

  /**
   * Waits without blocking until the worker has ended and its thread is gone.
   *
   * @param options `timeout` in ms and an abort `signal`.
   * @returns Whether the worker has ended.
   * @throws {ConcurrencyError} If the worker was never started.
   *
   * @example
   * ```ts ignore
   * w.start();
   * const ended = await w.joinAsync({ timeout: 5000 });
   * console.log(ended, w.exitCode); // true 0
   * ```
   */
  async joinAsync(options?: AsyncWaitOptions): Promise<boolean> {
    const control = this.#started("join");
    const deadline = new Deadline(normalizeTimeout(options?.timeout));
    for (;;) {
      const state = control.load(STATE);
      if (state === EXITED) break;
      const remaining = deadline.remaining();
      if (remaining === 0) return false;
      await control.waitAsync(STATE, state, remaining, options?.signal);
    }
    // The end is written; wait (boundedly) for the thread itself to be gone.
    const remaining = deadline.remaining();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.#exited,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, Math.min(remaining, TERMINATE_GRACE_MS * 2));
      }),
    ]);
    clearTimeout(timer);
    return true;
  }

  /**
   * Terminates the worker if it is still running and waits for it.
   *
   * @example
   * ```ts ignore
   * {
   *   await using w = new WorkerProcess({ module: import.meta.url, fn: "serve" });
   *   w.start();
   * } // terminated and joined here
   * ```
   */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#control === undefined) return;
    this.terminate();
    await this.joinAsync();
  }

  #started(operation: string): SabMemory {
    if (this.#control === undefined) {
      throw new ConcurrencyError(`Cannot ${operation} worker: it was never started`);
    }
    return this.#control;
  }
}

// A handle is local to its thread: structured clone would send an inert copy.
Object.defineProperty(WorkerProcess.prototype, NOT_SENDABLE, { value: "a WorkerProcess" });

/**
 * Whether the calling code runs on the main thread (not in a worker). Guard
 * the main program with it when the worker functions live in the same module.
 *
 * @example
 * ```ts
 * import { isMainThread } from "@concur/shm";
 *
 * if (isMainThread()) console.log("main program");
 * ```
 */
export function isMainThread(): boolean {
  // node:worker_threads reports web workers as main threads; WorkerGlobalScope exists only there.
  return nodeIsMainThread &&
    typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope === "undefined";
}

/** @internal Checks and converts a module URL (absolute URLs only). */
export function toModuleUrl(module: string | URL | undefined): URL {
  if (module instanceof URL) return module;
  if (typeof module === "string") {
    try {
      return new URL(module);
    } catch {
      // fall through
    }
  }
  throw new TypeError(
    `Cannot create worker: module must be an absolute URL (use import.meta.url), received ${
      String(module)
    }`,
  );
}
