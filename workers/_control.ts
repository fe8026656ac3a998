/**
 * The control block shared by a worker handle and the worker it started: the
 * interrupt cell, the worker's life state, its exit code and the error it
 * ended with. Everything the parent needs is in shared memory, so `join()`
 * and `exitCode` work even while the parent's event loop is blocked.
 *
 * Layout (one `SabMemory`):
 *
 * | cell / bytes | content                                                          |
 * |--------------|------------------------------------------------------------------|
 * | cell 0       | interrupt: 0, or 1 once terminate was requested (see shm/interrupt.ts) |
 * | cell 1       | state: STARTING, RUNNING, EXITED (stored last, then notified)       |
 * | cell 2       | exit code (valid once state is EXITED)                              |
 * | cell 3       | length of the error record (0: none)                                 |
 * | cell 4       | finish claim: 0, then 1 for whichever side writes the end first      |
 * | bytes 32..   | error record: V8-serialized {@linkcode ErrorRecord}, shrunk to fit   |
 *
 * Invariant: the end (exit code, error, EXITED) is written once, by the side
 * that wins the claim compare-exchange: the worker when it unwinds, or the
 * parent when the worker vanished without doing so.
 *
 * @module
 */

import { deserialize, serialize } from "node:v8";
import type { MemoryHandle } from "../shm/memory.ts";
import { SabMemory } from "../shm/sab_memory.ts";
import { RemoteError } from "../primitives/errors.ts";

/** Interrupt cell index. */
export const INTERRUPT = 0;
/** Life state cell index. */
export const STATE = 1;
const EXIT_CODE = 2;
const ERROR_LENGTH = 3;
const CLAIM = 4;
const ERROR_OFFSET = 32;
const ERROR_CAPACITY = 8192;
/** Size of a control block in bytes. */
export const CONTROL_BYTES: number = ERROR_OFFSET + ERROR_CAPACITY;

/** The worker has not started running the task yet. */
export const STARTING = 0;
/** The worker is running its task. */
export const RUNNING = 1;
/** The worker has ended; exit code and error are final. */
export const EXITED = 2;

/**
 * `exitCode` of a worker ended by `terminate()` (Python reports `-SIGTERM`,
 * -15, for a terminated process; this module keeps the number).
 *
 * @example
 * ```ts ignore
 * import { TERMINATED_EXIT_CODE, WorkerProcess } from "@concur/shm";
 *
 * const worker = new WorkerProcess({ module: import.meta.url, fn: "longTask" });
 * worker.start();
 * worker.terminate();
 * await worker.joinAsync();
 * console.log(worker.exitCode === TERMINATED_EXIT_CODE); // true
 * ```
 */
export const TERMINATED_EXIT_CODE: number = -15;

/** Key marking `workerData` written by this module. */
export const START_MARKER = "@concur/shm:start";

/** What a worker receives as `workerData`. */
export interface StartData {
  /** Always 1. */
  readonly [START_MARKER]: 1;
  /** A single task (`WorkerProcess`) or a pool worker loop. */
  readonly kind: "process" | "pool";
  /** URL of the module whose export runs. */
  readonly module: string;
  /** Name of the exported function (process) or initializer (pool; may be ""). */
  readonly fn: string;
  /** Arguments, primitives replaced by handles. */
  readonly args: unknown[];
  /** The managed owner id of the worker thread. */
  readonly ownerId: number;
  /** The name given to the worker. */
  readonly name: string;
  /** Whether the worker is a daemon. */
  readonly daemon: boolean;
  /** The control block. */
  readonly control: MemoryHandle;
  /** The program's liveness table. */
  readonly liveness: MemoryHandle;
  /**
   * Set when the parent's threads get owner ids linked to its process's
   * owner file (`shm/process_owner.ts`): the worker does the same for the
   * threads it starts, and removes its own link when it ends.
   */
  readonly ownerLinks?: unknown;
  /** Pool only: the task and result rings and this worker's slot. */
  readonly pool?: {
    readonly tasks: MemoryHandle;
    readonly results: MemoryHandle;
    readonly slot: number;
    readonly size: number;
    /** Tasks after which the worker retires (0: never). */
    readonly maxTasks: number;
  };
}

/** Creates a zeroed control block. */
export function createControl(): SabMemory {
  return new SabMemory(CONTROL_BYTES);
}

/** Whether the worker of this control block has ended. */
export function hasExited(control: SabMemory): boolean {
  return control.load(STATE) === EXITED;
}

/** The exit code (meaningful once {@linkcode hasExited}). */
export function exitCodeOf(control: SabMemory): number {
  return control.load(EXIT_CODE);
}

/** The error the worker ended with, if any. */
export function errorOf(control: SabMemory): RemoteError | undefined {
  const length = control.load(ERROR_LENGTH);
  if (length === 0) return undefined;
  const bytes = control.viewBytes(ERROR_OFFSET, length).slice();
  return remoteErrorOf(deserialize(bytes) as ErrorRecord);
}

/** Plain, clonable description of an error (what crosses threads). */
export interface ErrorRecord {
  /** `error.name`, or the constructor's name when `name` is just the inherited "Error". */
  name: string;
  /** `error.message` (also a thrown plain object's string `message`). */
  message: string;
  /** `error.stack`, or "". */
  stack: string;
  /** Own enumerable data properties that survive structured clone (bounded). */
  props?: Record<string, unknown>;
}

/** Keys a {@linkcode RemoteError} owns: carried properties never overwrite them. */
const RESERVED_KEYS = new Set(["name", "message", "stack", "cause", "remoteName", "remoteStack"]);
/** Most properties carried per error, and their total serialized bytes. */
const MAX_PROPS = 16;
const MAX_PROPS_BYTES = 4096;

/**
 * Describes any thrown value as name, message, stack and carried properties.
 * Never throws (it runs in catch blocks whose failure would kill a worker):
 * hostile getters and `toString`s are caught.
 */
export function recordError(error: unknown): ErrorRecord {
  try {
    if (error instanceof Error) {
      return {
        name: errorName(error),
        message: String(error.message),
        stack: typeof error.stack === "string" ? error.stack : "",
        ...carriedProps(error),
      };
    }
    if (error !== null && typeof error === "object") {
      const { name, message } = error as { name?: unknown; message?: unknown };
      return {
        name: typeof name === "string" ? name : "Error",
        message: typeof message === "string" ? message : safeString(error),
        stack: "",
        ...carriedProps(error),
      };
    }
    return { name: "Error", message: safeString(error), stack: "" };
  } catch {
    return { name: "Error", message: "(an error that could not be described)", stack: "" };
  }
}

/**
 * A subclass that does not set `name` inherits "Error": its constructor's
 * name says more (`class MyError extends Error` arrives as "MyError").
 */
function errorName(error: Error): string {
  const name = typeof error.name === "string" ? error.name : "Error";
  if (name !== "Error") return name;
  const constructorName = (error.constructor as { name?: unknown } | undefined)?.name;
  return typeof constructorName === "string" && constructorName !== "" ? constructorName : name;
}

function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** The own enumerable data properties worth carrying, each checked to be cloneable. */
function carriedProps(error: object): { props?: Record<string, unknown> } {
  const props: Record<string, unknown> = {};
  let count = 0;
  let bytes = 0;
  for (const key of Object.keys(error)) {
    if (RESERVED_KEYS.has(key)) continue;
    if (count === MAX_PROPS) break;
    const descriptor = Object.getOwnPropertyDescriptor(error, key);
    if (descriptor === undefined || !("value" in descriptor)) continue; // no getters run
    let size: number;
    try {
      size = serialize(descriptor.value).length;
    } catch {
      continue; // not structured-cloneable
    }
    if (bytes + size > MAX_PROPS_BYTES) continue;
    bytes += size;
    props[key] = descriptor.value;
    count++;
  }
  return count === 0 ? {} : { props };
}

/** The caller-side error for a record: a {@linkcode RemoteError} carrying its properties. */
export function remoteErrorOf(record: ErrorRecord): RemoteError {
  const error = new RemoteError(record.name, record.message, record.stack);
  if (record.props !== undefined) {
    for (const [key, value] of Object.entries(record.props)) {
      if (!RESERVED_KEYS.has(key)) {
        Object.defineProperty(error, key, {
          value,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
    }
  }
  return error;
}

/**
 * Encodes a record with `encode`, shrinking it until it takes at most
 * `maxBytes`: first without its properties, then with a shorter message and
 * stack. Always terminates: the last form is bounded whatever the input.
 */
export function fitErrorRecord<T extends { readonly length: number }>(
  record: ErrorRecord,
  maxBytes: number,
  encode: (record: ErrorRecord) => T,
): T {
  const attempt = (candidate: ErrorRecord): T | undefined => {
    try {
      const encoded = encode(candidate);
      return encoded.length <= maxBytes ? encoded : undefined;
    } catch {
      return undefined; // a property the encoder refuses: try without
    }
  };
  const fitted = attempt(record);
  if (fitted !== undefined) return fitted;
  let bare: ErrorRecord = {
    name: record.name.slice(0, 256),
    message: record.message.slice(0, 2048),
    stack: record.stack,
  };
  for (;;) {
    const encoded = attempt(bare);
    if (encoded !== undefined) return encoded;
    if (bare.stack === "") break;
    bare = { ...bare, stack: bare.stack.slice(0, bare.stack.length >> 1) };
  }
  return encode({
    name: record.name.slice(0, 64),
    message: record.message.slice(0, 256),
    stack: "",
  });
}

/**
 * Writes the end of the worker (once: returns false if the other side
 * already did). Wakes every thread joining it.
 */
export function finishControl(control: SabMemory, exitCode: number, error?: ErrorRecord): boolean {
  if (control.compareExchange(CLAIM, 0, 1) !== 0) return false;
  if (error !== undefined) {
    const bytes = fitErrorRecord(error, ERROR_CAPACITY, (record) => serialize(record));
    control.writeBytes(ERROR_OFFSET, bytes);
    control.store(ERROR_LENGTH, bytes.length);
  }
  control.store(EXIT_CODE, exitCode);
  control.store(STATE, EXITED);
  control.notify(STATE);
  return true;
}
