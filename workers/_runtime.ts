/**
 * The worker side of `WorkerProcess` and `Pool`.
 *
 * The entry module of a worker started by this module is the USER's module
 * (a worker file inside a published package cannot be loaded reliably:
 * jsr-io/jsr#322). When that module imports this library, this file is
 * evaluated in the worker before the user's module body. If the worker was
 * started by this module — a web Worker whose `name` starts with
 * {@linkcode WEB_WORKER_PREFIX} (it answers {@linkcode READY_MESSAGE} and
 * receives the start data by message), or a `node:worker_threads` worker
 * (daemons and pool workers, which can be unref'd) whose `workerData`
 * carries {@linkcode START_MARKER} — it schedules the run: adopt the owner
 * id and liveness table, install the interrupt, import the user's module
 * (the same module record: its evaluation has finished by then), revive the
 * arguments, call the exported function, and write the end to the control
 * block. Nothing happens in any other thread, so importing the library stays
 * free of effects there.
 *
 * @module
 */

import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { attachMemory, hasMemoryBackend } from "../shm/attach.ts";
import { installInterrupt, interruptRequested, stopInterruptWatcher } from "../shm/interrupt.ts";
import { installLivenessTable, markOwnerDead } from "../shm/liveness.ts";
import type { ThreadOwnerLinks } from "../shm/process_owner.ts";
import { SabMemory } from "../shm/sab_memory.ts";
import { setCurrentOwnerId } from "../primitives/_owner.ts";
import {
  type ErrorRecord,
  finishControl,
  fitErrorRecord,
  INTERRUPT,
  recordError,
  RUNNING,
  START_MARKER,
  type StartData,
  STATE,
  TERMINATED_EXIT_CODE,
} from "./_control.ts";
import { assertSendable, memoryBackendsIn, revive } from "./revive.ts";
import { MAX_BATCH, type RingRecord, TaskRing } from "./_task_ring.ts";
import { decodeValue, encodeValue, STRUCTURED } from "./_pool_codec.ts";

/** Message a worker posts once it has written its end (the parent then reaps it). */
export const DONE_MESSAGE = "@concur/shm:done";
/** Message a web worker posts as soon as this library is loaded in it. */
export const READY_MESSAGE = "@concur/shm:ready";
/** Prefix of the `name` of web workers started by this module (the start data follows by message). */
export const WEB_WORKER_PREFIX = "@concur/shm:";

/** Result tag bit in the pool's result ring: the task threw (payload: an {@linkcode ErrorRecord}). */
export const RESULT_ERROR = 2;
/**
 * Result tag bit in the pool's result ring: the task's value was too large
 * for the ring (payload: its encoded size). Only that task fails: pushing it
 * would have thrown in the worker and killed it.
 */
export const RESULT_TOO_LARGE = 4;

const CLAIMED = Symbol.for("@concur/shm:runtime-claimed");

/**
 * Information about the current worker thread, for user code.
 *
 * @example
 * ```ts ignore
 * export function task(): void {
 *   const { name, id, daemon } = workerInfo()!;
 *   console.log(name, id, daemon);
 * }
 * ```
 */
export interface WorkerInfo {
  /** The worker's name. */
  readonly name: string;
  /** The worker's id (its owner id). */
  readonly id: number;
  /** Whether it is a daemon. */
  readonly daemon: boolean;
}

let info: WorkerInfo | undefined;

/**
 * The current worker's name, id and daemon flag, or `undefined` outside
 * workers started by this module (available once the task runs).
 *
 * @example
 * ```ts
 * import { workerInfo } from "@concur/shm";
 *
 * console.log(workerInfo()?.name ?? "main thread");
 * ```
 */
export function workerInfo(): WorkerInfo | undefined {
  return info;
}

interface WebWorkerScope {
  name: string;
  postMessage(message: unknown): void;
  addEventListener(type: "message", listener: (event: MessageEvent) => void): void;
  removeEventListener(type: "message", listener: (event: MessageEvent) => void): void;
}

/** Posts to the parent thread, whichever kind of worker this is. */
let postToParent: (message: unknown) => void = () => {};

function claim(): boolean {
  const global = globalThis as Record<symbol, unknown>;
  if (global[CLAIMED]) return false; // another copy of the library runs it
  global[CLAIMED] = true;
  return true;
}

function startIfWorker(): void {
  const scope = globalThis as unknown as Partial<WebWorkerScope> & { WorkerGlobalScope?: unknown };
  if (
    scope.WorkerGlobalScope !== undefined && typeof scope.name === "string" &&
    scope.name.startsWith(WEB_WORKER_PREFIX)
  ) {
    // A web Worker started by WorkerProcess: the start data comes by message.
    if (!claim()) return;
    const self = scope as WebWorkerScope;
    postToParent = (message) => self.postMessage(message);
    const onStart = (event: MessageEvent) => {
      const data = event.data as StartData | undefined;
      if (data === null || typeof data !== "object" || data[START_MARKER] !== 1) return;
      self.removeEventListener("message", onStart);
      // Run after the entry module (the user's, which imported us) has evaluated.
      setTimeout(() => void run(data), 0);
    };
    self.addEventListener("message", onStart);
    self.postMessage(READY_MESSAGE);
    return;
  }
  if (isMainThread || parentPort === null) return;
  const data = workerData as StartData | undefined;
  if (data === null || typeof data !== "object" || data[START_MARKER] !== 1) return;
  if (!claim()) return;
  const port = parentPort;
  postToParent = (message) => port.postMessage(message);
  // Run after the entry module (the user's, which imported us) has evaluated.
  setTimeout(() => void run(data), 0);
}

async function run(data: StartData): Promise<void> {
  const control = SabMemory.from(data.control);
  setCurrentOwnerId(data.ownerId);
  installLivenessTable(data.liveness);
  if (data.ownerLinks !== undefined) {
    // Loaded only in workers of a registered process (it touches files).
    const { installThreadOwnerLinks } = await import("../shm/process_owner.ts");
    installThreadOwnerLinks(data.ownerLinks as ThreadOwnerLinks);
  }
  installInterrupt(control, INTERRUPT);
  info = { name: data.name, id: data.ownerId, daemon: data.daemon };
  const onUncaught = (event: Event) => {
    const error = (event as ErrorEvent).error ?? (event as PromiseRejectionEvent).reason;
    end(control, data, 1, recordError(error));
  };
  // Deno.exit(n) and node's process.exit(n) end the thread without unwinding
  // the task; "unload" is the one thing that still runs. A web Worker has no
  // exit event, so without this its parent would wait forever.
  const onUnload = () => end(control, data, Deno.exitCode);
  globalThis.addEventListener("error", onUncaught);
  globalThis.addEventListener("unhandledrejection", onUncaught);
  globalThis.addEventListener("unload", onUnload);
  control.store(STATE, RUNNING);
  let exitCode = 0;
  let error: ErrorRecord | undefined;
  try {
    const namespace = await import(data.module) as Record<string, unknown>;
    await importBackendsFor(data.args);
    if (data.kind === "pool") {
      await runPool(namespace, data);
    } else {
      const fn = exported(namespace, data.module, data.fn);
      await fn(...(revive(data.args) as unknown[]));
    }
  } catch (err) {
    error = recordError(err);
    exitCode = error.name === "TerminatedError" && interruptRequested() ? TERMINATED_EXIT_CODE : 1;
  }
  if (interruptRequested() && exitCode === 0) exitCode = TERMINATED_EXIT_CODE;
  globalThis.removeEventListener("error", onUncaught);
  globalThis.removeEventListener("unhandledrejection", onUncaught);
  globalThis.removeEventListener("unload", onUnload);
  end(control, data, exitCode, exitCode === TERMINATED_EXIT_CODE ? undefined : error);
}

function end(control: SabMemory, data: StartData, exitCode: number, error?: ErrorRecord): void {
  stopInterruptWatcher();
  // Dead before EXITED is visible: a joiner that sees EXITED also sees the
  // owner dead, so it can take over any lock the task left behind.
  markOwnerDead(data.ownerId);
  if (finishControl(control, exitCode, error)) postToParent(DONE_MESSAGE);
}

// deno-lint-ignore no-explicit-any
type AnyFunction = (...args: any[]) => unknown;

function exported(namespace: Record<string, unknown>, module: string, name: string): AnyFunction {
  const fn = namespace[name];
  if (typeof fn !== "function") {
    throw new TypeError(`Cannot run task: module ${module} has no exported function "${name}"`);
  }
  return fn as AnyFunction;
}

/**
 * Named objects (mapped or file-backed memory) arrive as handles whose
 * backend is registered only once `shm/process.ts` is imported: a task
 * module that imports only the main entry point would otherwise fail to
 * revive them ("unknown backend"). Loaded only when such a handle arrives.
 */
async function importBackendsFor(args: unknown): Promise<void> {
  for (const backend of memoryBackendsIn(args)) {
    if (!hasMemoryBackend(backend)) {
      await import("../shm/process.ts");
      return;
    }
  }
}

async function runPool(namespace: Record<string, unknown>, data: StartData): Promise<void> {
  const pool = data.pool!;
  if (data.fn !== "") {
    await exported(namespace, data.module, data.fn)(...(revive(data.args) as unknown[]));
  }
  const tasks = new TaskRing(attachMemory(pool.tasks));
  const results = new TaskRing(attachMemory(pool.results));
  const functions = new Map<string, AnyFunction>();
  const batch: RingRecord[] = [];
  let left = pool.maxTasks > 0 ? pool.maxTasks : Infinity;
  while (left > 0) {
    // Take several tasks at once only when the queue is deep (at least 8 per
    // worker; at most MAX_BATCH): fewer lock round trips for floods of tiny
    // tasks, while a short queue is served one task at a time, so a slow task
    // never holds back tasks an idle worker could run.
    const share = Math.floor(tasks.count / (8 * pool.size));
    batch.length = 0;
    const max = Math.max(1, Math.min(MAX_BATCH, share, left));
    const count = tasks.popMany(max, pool.slot, batch);
    if (count === 0) return; // closed and drained
    left -= count;
    // Each result goes back as soon as it is ready, and only then is its
    // claim freed: if this worker dies, only the task it was running fails.
    for (let i = 0; i < count; i++) {
      const task = batch[i];
      tasks.starting(pool.slot, i);
      let tag: number;
      let payload: Uint8Array;
      try {
        const [name, args] = decodeValue(task.tag, task.payload) as [string, unknown[]];
        let fn = functions.get(name);
        if (fn === undefined) {
          fn = exported(namespace, data.module, name);
          functions.set(name, fn);
        }
        let value = fn(...args);
        if (value instanceof Promise) value = await value;
        ({ flags: tag, bytes: payload } = encodeValue(value));
        if ((tag & STRUCTURED) !== 0) {
          assertSendable(
            value,
            "its value",
            "nowhere",
            `Cannot return the result of task "${name}"`,
            "task results cannot carry primitives (return plain data)",
          );
        }
        if (payload.length > results.maxPayload) {
          ({ flags: tag, bytes: payload } = encodeValue(payload.length));
          tag |= RESULT_TOO_LARGE;
        }
      } catch (err) {
        if (interruptRequested()) throw err;
        // Bounded to the ring, like every record pushed here: a push that
        // can never fit throws, and would kill the worker.
        const encoded = fitErrorRecord(recordError(err), results.maxPayload, (record) => {
          const { flags, bytes } = encodeValue(record);
          return { flags, bytes, length: bytes.length };
        });
        tag = RESULT_ERROR | encoded.flags;
        payload = encoded.bytes;
      }
      results.push(task.id, tag, payload);
      tasks.release(pool.slot, i, i + 1);
    }
  }
}

startIfWorker();
