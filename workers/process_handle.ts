/**
 * Process handles: a real OS process (`deno run`) running the caller's
 * module, with named shared objects as arguments (Python's
 * `multiprocessing.Process` with the spawn start method).
 *
 * ```ts ignore
 * // parent
 * const counter = openShared(SharedValue, "hits", undefined, (allocate) =>
 *   new SharedValue("int32", 0, { allocate }));
 * const child = startProcess(new URL("./child.ts", import.meta.url), { args: [counter, 1000] });
 * await child.join();
 *
 * // child.ts
 * const [counter, n] = processArgs() as [SharedValue, number];
 * ```
 *
 * Arguments are JSON values; primitives in them (at any depth of arrays and
 * plain objects) travel as their handles — the path of their file — and
 * arrive revived. Only primitives opened with `openShared` (file or mapped
 * memory) can cross a process boundary; a `SharedArrayBuffer` one is a
 * `TypeError` at start.
 *
 * Permissions are explicit: the child gets exactly `permissions` when given;
 * by default it gets read and write access to the directories of the shared
 * objects in its arguments, `--allow-ffi` if one of them is memory-mapped,
 * and nothing else. `--no-prompt` is always set, so a missing permission is
 * an error in the child, never a prompt.
 *
 * A child that calls {@linkcode processArgs} registers itself as a process
 * owner (`shm/process_owner.ts`), so a lock it holds when it is killed can be
 * recovered by the others.
 *
 * @module
 */

import { releaseFileLeases } from "../shm/file_memory.ts";
import "../shm/named.ts"; // registers the process backends for revival
import { registerProcessOwner } from "../shm/process_owner.ts";
import { assertSendable, NOT_SENDABLE, revive } from "./revive.ts";
import { TimeoutError } from "../primitives/errors.ts";
import { type AsyncWaitOptions, normalizeTimeout, TIMED_OUT, waitWithin } from "../shm/timeout.ts";

const ARGS_PREFIX = "--concur-shm-args=";

/**
 * A permission: all (`true`), none (`false`/absent), or a list of paths/hosts/names.
 *
 * @example
 * ```ts ignore
 * import { type Permission, startProcess } from "@concur/shm/process";
 *
 * const read: Permission = ["./data"]; // only this directory; `true`: all, `false`: none
 * const child = startProcess(new URL("./child.ts", import.meta.url), {
 *   permissions: { read, env: true },
 * });
 * await child.join();
 * ```
 */
export type Permission = boolean | readonly string[];

/**
 * The permissions a child process runs with (Deno's `--allow-*` flags).
 *
 * @example
 * ```ts ignore
 * import { type ProcessPermissions, startProcess } from "@concur/shm/process";
 *
 * const permissions: ProcessPermissions = { read: true, write: ["/tmp/out"], net: false };
 * const child = startProcess(new URL("./child.ts", import.meta.url), { permissions });
 * await child.join();
 * ```
 */
export interface ProcessPermissions {
  /** `--allow-read`. */
  read?: Permission;
  /** `--allow-write`. */
  write?: Permission;
  /** `--allow-net`. */
  net?: Permission;
  /** `--allow-env`. */
  env?: Permission;
  /** `--allow-run`. */
  run?: Permission;
  /** `--allow-ffi`. */
  ffi?: Permission;
  /** `--allow-sys`. */
  sys?: Permission;
}

/**
 * Options of {@linkcode startProcess}.
 *
 * @example
 * ```ts ignore
 * import { Event } from "@concur/shm";
 * import { openShared, startProcess, type StartProcessOptions } from "@concur/shm/process";
 *
 * const ready = openShared(Event, "ready"); // only named objects cross processes
 * const options: StartProcessOptions = {
 *   args: [ready, 42], // the child reads them with processArgs()
 *   name: "consumer",
 *   stdout: "piped",
 *   env: { LOG_LEVEL: "debug" },
 * };
 * const child = startProcess(new URL("./consumer.ts", import.meta.url), options);
 * console.log(await child.join({ timeout: 10000 }), child.exitCode); // true 0
 * ```
 */
export interface StartProcessOptions {
  /** Arguments for the child (JSON values and shared primitives); read with {@linkcode processArgs}. */
  args?: readonly unknown[];
  /** Exactly what the child may do (default: see the module documentation). */
  permissions?: ProcessPermissions;
  /** A name for messages (default: the module's file name). */
  name?: string;
  /** Extra `deno run` flags (for example `["--no-check"]`). */
  denoFlags?: readonly string[];
  /** Where the child's output goes (default `"inherit"`). */
  stdout?: "inherit" | "piped" | "null";
  /** Where the child's errors go (default `"inherit"`). */
  stderr?: "inherit" | "piped" | "null";
  /** Environment variables to add. */
  env?: Record<string, string>;
  /** Working directory. */
  cwd?: string;
}

/**
 * A running (or finished) child process.
 *
 * @example Run a module in a child process and wait for it
 * ```ts ignore
 * import { Event } from "@concur/shm";
 * import { openShared, startProcess } from "@concur/shm/process";
 *
 * const done = openShared(Event, "job-done");
 * const child = startProcess(new URL("./job.ts", import.meta.url), { args: [done] });
 * await child.join({ timeout: 10_000 });
 * console.log(child.exitCode); // 0
 * ```
 */
export class ProcessHandle implements AsyncDisposable {
  /** The name given at start (or the module's file name). */
  readonly name: string;
  /** The child's process id. */
  readonly pid: number;
  /** The Deno child process (for piped streams). */
  readonly child: Deno.ChildProcess;
  #status: Deno.CommandStatus | undefined;
  readonly #done: Promise<Deno.CommandStatus>;

  /** @internal Use {@linkcode startProcess}. */
  constructor(name: string, child: Deno.ChildProcess) {
    this.name = name;
    this.child = child;
    this.pid = child.pid;
    this.#done = child.status.then((status) => (this.#status = status));
  }

  /** Whether the process is still running. */
  get isAlive(): boolean {
    return this.#status === undefined;
  }

  /** The exit code once it ended (128 + n after signal n), else `null`. */
  get exitCode(): number | null {
    return this.#status?.code ?? null;
  }

  /** The signal that ended it, if one did. */
  get signal(): Deno.Signal | null {
    return this.#status?.signal ?? null;
  }

  /**
   * Waits for the process to end.
   *
   * @param options `timeout` in ms (default: forever; negative or `NaN`:
   * poll) and an abort `signal` (which ends the wait, not the process).
   * @returns Whether it has ended (false: the timeout expired first).
   * @throws {TypeError} If `timeout` is not a number.
   * @throws The signal's reason, if it aborts first.
   */
  async join(options?: AsyncWaitOptions): Promise<boolean> {
    releaseFileLeases(); // the child may need a file we hold on lease
    options?.signal?.throwIfAborted();
    if (this.#status !== undefined) return true;
    const timeout = normalizeTimeout(options?.timeout);
    return await waitWithin(this.#done, timeout, options?.signal) !== TIMED_OUT;
  }

  /**
   * Waits for the process to end, or throws.
   *
   * @param options `timeout` in ms and an abort `signal`.
   * @returns The exit code.
   * @throws {TimeoutError} If it is still running at the timeout.
   * @throws The signal's reason, if it aborts first.
   */
  async exited(options?: AsyncWaitOptions): Promise<number> {
    if (!(await this.join(options))) {
      throw new TimeoutError(
        `Process ${this.name} (${this.pid}) still runs after ${options?.timeout} ms`,
      );
    }
    return this.exitCode!;
  }

  /**
   * Sends a signal (default `SIGTERM`, Python's `terminate()`); a no-op once it ended.
   *
   * @param signal The signal.
   */
  terminate(signal: Deno.Signal = "SIGTERM"): void {
    if (this.#status !== undefined) return;
    try {
      this.child.kill(signal);
    } catch (error) {
      if (!(error instanceof TypeError)) throw error; // already exited
    }
  }

  /** Sends `SIGKILL` (Python's `kill()`). */
  kill(): void {
    this.terminate("SIGKILL");
  }

  /** Kills the process if it still runs, and waits for it. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.kill();
    await this.#done;
  }
}

// A handle is local to its process: JSON would send an empty object.
Object.defineProperty(ProcessHandle.prototype, NOT_SENDABLE, { value: "a ProcessHandle" });

/**
 * Starts `deno run` on `module` in a new process.
 *
 * @param module The module to run (a URL or path).
 * @param options Arguments, permissions, output.
 * @returns The handle.
 * @throws {TypeError} If an argument cannot cross a process boundary (a
 * primitive not opened with `openShared`, a `Pool`, a `WorkerProcess`, a
 * `ProcessHandle`, a primitive inside a `Map` or `Set`).
 *
 * @example
 * ```ts ignore
 * import { startProcess } from "@concur/shm/process";
 *
 * const child = startProcess(new URL("./worker.ts", import.meta.url), { args: [42] });
 * await child.join();
 * ```
 */
export function startProcess(module: string | URL, options?: StartProcessOptions): ProcessHandle {
  const specifier = String(module);
  assertSendable(
    options?.args ?? [],
    "args",
    "revived",
    `Cannot start process ${specifier}`,
    "primitives arrive revived only in arrays and plain objects (put it in one)",
  );
  const args = (options?.args ?? []).map(toProcessArgument);
  const needs = { dirs: new Set<string>(), ffi: false };
  collectMemories(args, needs);
  const permissions = options?.permissions ?? {
    read: [...needs.dirs],
    write: [...needs.dirs],
    ffi: needs.ffi,
  };
  const flags = [
    "run",
    "--no-prompt",
    ...permissionFlags(permissions),
    ...(options?.denoFlags ?? []),
  ];
  const command = new Deno.Command(Deno.execPath(), {
    args: [...flags, specifier, ARGS_PREFIX + JSON.stringify(args)],
    stdin: "null",
    stdout: options?.stdout ?? "inherit",
    stderr: options?.stderr ?? "inherit",
    env: options?.env,
    cwd: options?.cwd,
  });
  const name = options?.name ?? specifier.slice(specifier.lastIndexOf("/") + 1);
  return new ProcessHandle(name, command.spawn());
}

/**
 * In a process started by {@linkcode startProcess}: its arguments, with
 * shared primitives revived. Also registers the process as a lock owner
 * whose death others can detect (needs read/write on the shared directory,
 * which the default permissions include when objects are passed).
 *
 * @returns The arguments given to `startProcess` (empty if none).
 *
 * @example
 * ```ts ignore
 * import type { Mutex } from "@concur/shm";
 * import { processArgs } from "@concur/shm/process";
 *
 * const [mutex, rounds] = processArgs() as [Mutex, number];
 * ```
 */
export function processArgs(): unknown[] {
  const raw = Deno.args.find((arg) => arg.startsWith(ARGS_PREFIX));
  if (raw === undefined) return [];
  const args = JSON.parse(raw.slice(ARGS_PREFIX.length)) as unknown[];
  try {
    registerProcessOwner();
  } catch {
    // No permission on the shared directory: locks still work, without recovery.
  }
  return revive(args) as unknown[];
}

/** Replaces every primitive (an object with a primitive `handle`) by its handle, at any depth. */
function toProcessArgument(value: unknown): unknown {
  if (value === null || typeof value !== "object" || ArrayBuffer.isView(value)) return value;
  if (Array.isArray(value)) return value.map(toProcessArgument);
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    const handle = (value as { handle?: { kind?: unknown; memory?: unknown } }).handle;
    if (
      handle && typeof handle.kind === "string" && handle.memory &&
      typeof handle.memory === "object"
    ) {
      return handle;
    }
    return value;
  }
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = toProcessArgument(item);
  return out;
}

function permissionFlags(permissions: ProcessPermissions): string[] {
  const flags: string[] = [];
  for (const [key, value] of Object.entries(permissions) as [string, Permission | undefined][]) {
    if (value === true) flags.push(`--allow-${key}`);
    else if (Array.isArray(value) && value.length > 0) {
      flags.push(`--allow-${key}=${value.join(",")}`);
    }
  }
  return flags;
}

/** Finds the memory handles in the arguments; refuses those that cannot leave the process. */
function collectMemories(value: unknown, needs: { dirs: Set<string>; ffi: boolean }): void {
  if (value === null || typeof value !== "object") return;
  if (Array.isArray(value)) {
    for (const item of value) collectMemories(item, needs);
    return;
  }
  const memory = (value as { memory?: { backend?: unknown; path?: unknown } }).memory;
  if (
    typeof (value as { kind?: unknown }).kind === "string" && memory && typeof memory === "object"
  ) {
    if (memory.backend === "sab" || typeof memory.path !== "string") {
      throw new TypeError(
        `Cannot pass a ${
          (value as { kind: string }).kind
        } to a process: it lives in this process's memory (open it with openShared)`,
      );
    }
    const path = memory.path;
    needs.dirs.add(path.slice(0, Math.max(1, path.lastIndexOf("/"))));
    if (memory.backend === "mmap") needs.ffi = true;
    return;
  }
  if (ArrayBuffer.isView(value)) return;
  for (const item of Object.values(value)) collectMemories(item, needs);
}
