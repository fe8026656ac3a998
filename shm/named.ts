/**
 * Named shared objects: any primitive of this module, created in (or
 * attached from) a file that separate processes open by name.
 *
 * ```ts ignore
 * const mutex = openShared(Mutex, "orders-lock");                 // create or attach
 * const queue = openShared(Queue, "jobs", { create: "exclusive" }, // must be new
 *   (allocate) => new Queue(1024, { allocate }));
 * ```
 *
 * - **Where**: a name is a file `concur-<name>` in the shared directory
 *   ({@linkcode defaultSharedDir}: `/tmp` on Unix), or an explicit absolute
 *   path. On Linux `dir: "/dev/shm"` keeps the file in RAM, but Deno 2.9
 *   grants access to anything under `/dev` only with `--allow-all`; the
 *   page cache makes a `/tmp` file nearly as fast (the bytes are shared in
 *   memory, and written back to disk lazily). Names are 1–200 characters of
 *   `[A-Za-z0-9._-]`, not starting with a dot: no separators, no traversal.
 * - **Which memory**: `backend: "auto"` (default) maps the file
 *   ({@linkcode MmapMemory}) on Linux when FFI is permitted, and otherwise
 *   uses the {@linkcode FileMemory}; the choice is recorded in the file, and
 *   {@linkcode sharedInfo} reports it. Attaching follows the file's choice.
 * - **Creation is atomic**: the object is built completely in a private
 *   temporary file (0600), then published under its name with `link`,
 *   which fails if the name exists. So an attacher never sees a half-made
 *   object, and of two racing creators exactly one wins (with
 *   `create: "if-missing"` the other attaches to the winner's object).
 * - **Checks on attach**: the file must be a shared object file of this
 *   module (else `LayoutError`), the primitive's own `from()` checks kind and
 *   layout version, and when the caller says how it would have created the
 *   object, the stored header (size and the four parameters: capacity,
 *   flags...) must be exactly what that creation would have written (else
 *   `LayoutError` with problem `"bad-parameters"`).
 * - **Lifetime**: {@linkcode closeShared} drops this process's mapping;
 *   {@linkcode unlinkShared} removes the name (processes that have it open
 *   keep working, like `shm_unlink`).
 *
 * @module
 */

import { HEADER_CELLS, type MemoryAllocator, type PrimitiveHandle } from "../primitives/_header.ts";
import { LayoutError } from "../primitives/errors.ts";
import { registerMemoryBackend } from "./attach.ts";
import { FileMemory } from "./file_memory.ts";
import type { Memory } from "./memory.ts";
import { MmapMemory } from "./mmap_memory.ts";
import "./process_owner.ts"; // recovers locks of dead processes (robust Mutex)
import { mmapSupported } from "./_libc.ts";
import {
  createSharedFile,
  defaultSharedDir,
  type FileMode,
  readSharedFile,
  RELABEL,
  writeDescriptor,
} from "./_shared_file.ts";

export { defaultSharedDir };
export type { FileMode };
import { SabMemory } from "./sab_memory.ts";

/**
 * How {@linkcode openShared} treats an existing or missing name.
 *
 * @example
 * ```ts ignore
 * import { Mutex } from "@concur/shm";
 * import { type CreateMode, openShared, unlinkShared } from "@concur/shm/process";
 *
 * const create: CreateMode = "exclusive"; // fails with AlreadyExists if the name is taken
 * const lock = openShared(Mutex, "job-lock", { create });
 * // in the other processes: openShared(Mutex, "job-lock", { create: "never" })
 * lock.withLock(() => console.log("held"));
 * unlinkShared("job-lock");
 * ```
 */
export type CreateMode = "if-missing" | "exclusive" | "never";

/**
 * Options of {@linkcode openShared}.
 *
 * @example
 * ```ts ignore
 * import { Event } from "@concur/shm";
 * import { openShared, type OpenSharedOptions } from "@concur/shm/process";
 *
 * const options: OpenSharedOptions = { create: "if-missing", backend: "file", leaseMs: 2 };
 * const ready = openShared(Event, "ready", options); // creates it, or attaches to it
 * ready.set();
 * ```
 */
export interface OpenSharedOptions {
  /**
   * `"if-missing"` (default): attach if the name exists, else create;
   * `"exclusive"`: create, failing with `Deno.errors.AlreadyExists` if it
   * exists; `"never"`: attach, failing with `Deno.errors.NotFound` if missing.
   */
  create?: CreateMode;
  /**
   * Memory for a new object: `"auto"` (default: `"mmap"` on Linux with FFI
   * permission, else `"file"`), `"mmap"` or `"file"`. When attaching, the
   * file's own backend is used; asking for the other one is an error.
   */
  backend?: "auto" | FileMode;
  /** Directory of named files (default: {@linkcode defaultSharedDir}). Ignored for absolute paths. */
  dir?: string;
  /**
   * For the file-backed memory: hold the file lock across operations for up
   * to this many ms (see `FileMemoryOptions.leaseMs`). Given at creation, it
   * is recorded in the file and becomes every process's default; given when
   * attaching, it applies to this process only.
   */
  leaseMs?: number;
  /**
   * For a `PipeEnd`: which end of the pipe an attacher gets (0 or
   * 1; default: the end the creator's `construct` returned). A creator gets
   * what its `construct` returned.
   */
  end?: 0 | 1;
}

/**
 * A primitive class that named objects can be made of.
 *
 * @example
 * ```ts ignore
 * import { Event, Semaphore } from "@concur/shm";
 * import { openShared, type SharedKind } from "@concur/shm/process";
 *
 * const kind: SharedKind<Event> = Event; // any primitive class: it has `name` and `from`
 * const ready = openShared(kind, "ready");
 * // a class whose constructor needs arguments: say how to create it
 * const slots = openShared(Semaphore, "slots", undefined, (allocate) => new Semaphore(4, { allocate }));
 * ```
 */
export interface SharedKind<T> {
  /** The class name, which is the primitive's kind (`"Mutex"`, `"Queue"`...). */
  readonly name: string;
  /** Revives an object from its handle (checks kind, version and parameters). */
  from(handle: never): T;
}

/**
 * Where a named object lives and which memory it uses.
 *
 * @example
 * ```ts ignore
 * import { Mutex } from "@concur/shm";
 * import { openShared, type SharedInfo, sharedInfo } from "@concur/shm/process";
 *
 * const info: SharedInfo = sharedInfo(openShared(Mutex, "m"));
 * console.log(info.path, info.backend); // ".../m" "mmap" (or "file")
 * ```
 */
export interface SharedInfo {
  /** The file. */
  readonly path: string;
  /** `"mmap"` or `"file"`. */
  readonly backend: FileMode;
}

const NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$/;
const PREFIX = "concur-";

/** Memories of the objects this module opened, for close and info. */
const memories = new WeakMap<object, OpenMemory[]>();

/**
 * The file a name stands for. An absolute path is taken as it is.
 *
 * @param name A name (`[A-Za-z0-9._-]`, 1–200 characters, not starting with a dot) or an absolute path.
 * @param dir The directory for names (default: {@linkcode defaultSharedDir}).
 * @returns The path.
 * @throws {TypeError} If the name is not a valid name nor an absolute path.
 *
 * @example
 * ```ts ignore
 * import { sharedPath } from "@concur/shm";
 *
 * console.log(sharedPath("jobs")); // "/tmp/concur-jobs" on Unix
 * ```
 */
export function sharedPath(name: string, dir?: string): string {
  if (typeof name !== "string") {
    throw new TypeError(`Shared object name must be a string: received ${typeof name}`);
  }
  if (isAbsolute(name)) {
    if (name.split(/[\\/]/).some((part) => part === "..")) {
      throw new TypeError(`Shared object path must not contain "..": received "${name}"`);
    }
    return name;
  }
  if (!NAME.test(name)) {
    throw new TypeError(
      `Invalid shared object name "${name}": use 1-200 characters of A-Z a-z 0-9 . _ - (not starting with a dot), or an absolute path`,
    );
  }
  const base = dir ?? defaultSharedDir();
  return `${base.replace(/[\\/]+$/, "")}/${PREFIX}${name}`;
}

function isAbsolute(path: string): boolean {
  return path.startsWith("/") || /^[A-Za-z]:[\\/]/.test(path) || path.startsWith("\\\\");
}

/**
 * The backend a new object gets with `backend: "auto"`.
 *
 * @example
 * ```ts
 * import { defaultBackend } from "@concur/shm/process";
 *
 * const backend = defaultBackend();
 * console.log(backend === "mmap" || backend === "file"); // true ("mmap" on Linux with FFI permission)
 * ```
 */
export function defaultBackend(): FileMode {
  return mmapSupported() ? "mmap" : "file";
}

/**
 * Creates or attaches the named object `name` of class `Kind`.
 *
 * @param Kind The primitive class (`Mutex`, `Queue`...).
 * @param name A name or an absolute path (see {@linkcode sharedPath}).
 * @param options Create mode, backend, directory.
 * @param construct How to create it, given an allocator: for example
 * `(allocate) => new Queue(64, { allocate })`. Defaults to
 * `new Kind({ allocate })`. When attaching, the object found must have the
 * size and parameters this would create.
 * @returns The object, working across every process that opened the name.
 * @throws {TypeError} For an invalid name.
 * @throws {LayoutError} If the file is not such an object, of another kind,
 * version or parameters, or made for a backend this process cannot use.
 * @throws {Deno.errors.AlreadyExists} With `create: "exclusive"` if the name exists.
 * @throws {Deno.errors.NotFound} With `create: "never"` if it does not.
 *
 * @example A mutex shared by name between processes
 * ```ts ignore
 * import { Mutex } from "@concur/shm";
 * import { openShared, unlinkShared } from "@concur/shm/process";
 *
 * const mutex = openShared(Mutex, "example-lock");
 * mutex.withLock(() => console.log("held"));
 * unlinkShared("example-lock");
 * ```
 */
export function openShared<T extends object>(
  Kind: SharedKind<unknown>,
  name: string,
  options: OpenSharedOptions | undefined,
  construct: (allocate: MemoryAllocator) => T,
): T;
/** Creates (as `new Kind({ allocate })`) or attaches the named object `name`. */
export function openShared<T extends object>(
  Kind: SharedKind<T>,
  name: string,
  options?: OpenSharedOptions,
): T;
export function openShared<T extends object>(
  Kind: SharedKind<T>,
  name: string,
  options?: OpenSharedOptions,
  construct?: (allocate: MemoryAllocator) => T,
): T {
  const path = sharedPath(name, options?.dir);
  const mode = options?.create ?? "if-missing";
  if (mode !== "if-missing" && mode !== "exclusive" && mode !== "never") {
    throw new TypeError(`Invalid create mode "${mode}": use "if-missing", "exclusive" or "never"`);
  }
  const make = construct ?? ((allocate: MemoryAllocator) => {
    try {
      return new (Kind as unknown as new (o: unknown) => T)({ allocate });
    } catch (error) {
      // Kinds whose constructor needs arguments (SharedValue's type,
      // SharedArray's length...) reject the lone options object with an
      // error about a parameter the caller never passed: say what to do.
      throw new TypeError(
        `Cannot create shared ${Kind.name} "${path}" with new ${Kind.name}({ allocate }): ${
          (error as Error)?.message ?? error
        }. Pass a construct function, e.g. (allocate) => new ${Kind.name}(..., { allocate })`,
        { cause: error },
      );
    }
  });
  if (mode !== "never") {
    const created = tryCreate(Kind, path, options, make);
    if (created !== undefined) return created;
    if (mode === "exclusive") {
      throw new Deno.errors.AlreadyExists(`Cannot create shared ${Kind.name} "${path}": it exists`);
    }
  }
  return attach(
    Kind,
    path,
    options,
    construct === undefined && mode === "never" ? undefined : make,
  );
}

type OpenMemory = Memory & {
  close(): void;
  readonly path: string;
  [RELABEL](path: string): void;
};

/**
 * Creates the object in private temporary files (one per memory it
 * allocates: a `Condition` or a locked `SharedValue` allocates its lock too),
 * names each file for good (`<path>` for the object's own memory,
 * `<path>.part<k>` for the others), writes the object's full handle into
 * the main file as its descriptor, and links the files into place, the main
 * one last (its name appearing is what publishes the object). Returns
 * undefined if the name exists (someone else created it first).
 */
function tryCreate<T extends object>(
  Kind: SharedKind<T>,
  path: string,
  options: OpenSharedOptions | undefined,
  make: (allocate: MemoryAllocator) => T,
): T | undefined {
  if (exists(path)) return undefined;
  const backend = resolveBackend(options?.backend);
  const tag = crypto.randomUUID().slice(0, 8);
  const parts: { temporary: string; memory: OpenMemory; final?: string }[] = [];
  const allocate: MemoryAllocator = (byteLength) => {
    const temporary = `${path}.${tag}.${parts.length}.tmp`;
    createSharedFile(temporary, (byteLength + 3) & ~3, backend, options?.leaseMs ?? 0);
    const memory = backend === "mmap" ? MmapMemory.open(temporary) : FileMemory.open(temporary);
    parts.push({ temporary, memory });
    return memory;
  };
  const linked: string[] = [];
  try {
    const object = make(allocate);
    const own = (object as { handle?: PrimitiveHandle }).handle?.memory?.path;
    const main = parts.find((part) => part.memory.path === own);
    if (main === undefined) {
      throw new TypeError(
        `Cannot create shared ${Kind.name}: the constructor ignored its allocator`,
      );
    }
    let k = 1;
    for (const part of parts) {
      part.final = part === main ? path : `${path}.part${k++}`;
      part.memory[RELABEL](part.final);
    }
    const handle = (object as { handle: PrimitiveHandle }).handle;
    const descriptor = JSON.stringify(rebasePaths(handle, (p) => p.slice(path.length)));
    writeDescriptor(main.temporary, readSharedFile(main.temporary), descriptor);
    for (const part of [...parts.filter((p) => p !== main), main]) {
      try {
        Deno.linkSync(part.temporary, part.final!);
      } catch (error) {
        if (error instanceof Deno.errors.AlreadyExists) {
          for (const done of linked) Deno.removeSync(done);
          for (const each of parts) each.memory.close();
          return undefined;
        }
        throw error;
      }
      linked.push(part.final!);
    }
    memories.set(object, parts.map((part) => part.memory));
    return object;
  } catch (error) {
    for (const done of linked) Deno.removeSync(done);
    for (const part of parts) part.memory.close();
    throw error;
  } finally {
    for (const part of parts) {
      try {
        Deno.removeSync(part.temporary);
      } catch {
        // already gone
      }
    }
  }
}

function attach<T extends object>(
  Kind: SharedKind<T>,
  path: string,
  options: OpenSharedOptions | undefined,
  make: ((allocate: MemoryAllocator) => T) | undefined,
): T {
  let info;
  try {
    info = readSharedFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Deno.errors.NotFound(
        `Cannot open shared ${Kind.name} "${path}": it does not exist`,
      );
    }
    throw error;
  }
  const wanted = options?.backend ?? "auto";
  if (wanted !== "auto" && wanted !== info.mode) {
    throw new LayoutError(
      "wrong-kind",
      `Cannot open shared ${Kind.name} "${path}" with the ${wanted} backend: it was created for the ${info.mode} backend`,
    );
  }
  if (info.mode === "mmap" && !mmapSupported()) {
    throw new LayoutError(
      "wrong-kind",
      `Cannot open shared ${Kind.name} "${path}": it was created memory-mapped, which needs Linux and --allow-ffi`,
    );
  }
  let handle: PrimitiveHandle;
  try {
    handle = info.descriptor === undefined
      ? {
        kind: Kind.name,
        memory: { backend: info.mode, path, byteOffset: 256, byteLength: info.regionLength },
      }
      : rebasePaths(JSON.parse(info.descriptor), (p) => path + p);
  } catch {
    throw new LayoutError(
      "bad-parameters",
      `Cannot open ${path}: its descriptor is not valid JSON`,
    );
  }
  // A Pipe is made by a factory function; its ends are PipeEnd objects.
  const storedKind = Kind.name === "PipeEnd" ? "Pipe" : Kind.name;
  if (handle?.kind !== storedKind) {
    throw new LayoutError(
      "wrong-kind",
      `Cannot open shared ${Kind.name} "${path}": it holds a ${String(handle?.kind)}`,
    );
  }
  if (options?.end !== undefined) {
    if (storedKind !== "Pipe" || (options.end !== 0 && options.end !== 1)) {
      throw new TypeError(
        `Cannot open shared ${Kind.name} "${path}": the end option is 0 or 1, for a PipeEnd only`,
      );
    }
    handle = { ...handle, end: options.end } as PrimitiveHandle;
  }
  const opened: OpenMemory[] = [];
  capture = { opened, leaseMs: options?.leaseMs };
  try {
    const object = Kind.from(handle as never);
    capture = undefined;
    const own = opened.find((memory) => memory.path === path);
    if (make !== undefined && own !== undefined) checkSameCreation(Kind, path, own, make);
    memories.set(object, opened);
    return object;
  } catch (error) {
    for (const memory of opened) memory.close();
    throw error;
  } finally {
    capture = undefined;
  }
}

/** While `attach` revives an object: where the memories it opens are recorded. */
let capture: { opened: OpenMemory[]; leaseMs?: number } | undefined;
registerMemoryBackend("mmap", (handle) => {
  const memory = MmapMemory.from(handle);
  capture?.opened.push(memory);
  return memory;
});
registerMemoryBackend("file", (handle) => {
  const memory = FileMemory.from(handle);
  if (capture !== undefined) {
    if (capture.leaseMs !== undefined) memory.setLease(capture.leaseMs);
    capture.opened.push(memory);
  }
  return memory;
});

/**
 * Compares the stored header with the one `make` would write: same kind,
 * byte length and parameters (the header cells 1..7), on scratch memory.
 */
function checkSameCreation<T extends object>(
  Kind: SharedKind<T>,
  path: string,
  memory: Memory,
  make: (allocate: MemoryAllocator) => T,
): void {
  const scratches: SabMemory[] = [];
  const object = make((byteLength) => {
    const scratch = new SabMemory(byteLength);
    scratches.push(scratch);
    return scratch;
  });
  const buffer = (object as { handle?: PrimitiveHandle }).handle?.memory?.buffer;
  const scratch = scratches.find((m) => m.handle().buffer === buffer);
  if (scratch === undefined) return;
  // Another kind or version, or no header at all: from() reported it already.
  for (let cell = 0; cell < 3; cell++) {
    if (memory.load(cell) !== scratch.load(cell)) return;
  }
  for (let cell = 3; cell < HEADER_CELLS; cell++) {
    const want = scratch.load(cell);
    const have = memory.load(cell);
    if (want !== have) {
      throw new LayoutError(
        "bad-parameters",
        `Cannot open shared ${Kind.name} "${path}": it was created with different ${
          cell === 3 ? "size" : "parameters"
        } (header cell ${cell} is ${have}, ${want} asked for)`,
      );
    }
  }
}

function resolveBackend(backend: OpenSharedOptions["backend"]): FileMode {
  if (backend === undefined || backend === "auto") return defaultBackend();
  if (backend === "mmap" && !mmapSupported()) {
    throw new LayoutError(
      "wrong-kind",
      `Cannot create a memory-mapped shared object: it needs Linux and --allow-ffi`,
    );
  }
  if (backend !== "mmap" && backend !== "file") {
    throw new TypeError(`Invalid backend "${backend}": use "auto", "mmap" or "file"`);
  }
  return backend;
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * Where a named object lives and which memory it uses.
 *
 * @param object An object from {@linkcode openShared}.
 * @returns Its path and backend.
 * @throws {TypeError} If the object was not opened with {@linkcode openShared}.
 *
 * @example
 * ```ts ignore
 * import { Mutex } from "@concur/shm";
 * import { openShared, sharedInfo } from "@concur/shm/process";
 *
 * console.log(sharedInfo(openShared(Mutex, "m")).backend); // "mmap" or "file"
 * ```
 */
export function sharedInfo(object: object): SharedInfo {
  const memory = memories.get(object)?.[0];
  if (memory === undefined) {
    throw new TypeError("Not a named shared object (open it with openShared)");
  }
  const own = (object as { handle?: PrimitiveHandle }).handle?.memory?.path ?? memory.path;
  return { path: own, backend: memory.backend as FileMode };
}

/**
 * Closes this process's access to a named object (its mapping or file);
 * the object must not be used afterwards. Idempotent.
 *
 * @param object An object from {@linkcode openShared}.
 *
 * @example
 * ```ts ignore
 * import { Mutex } from "@concur/shm";
 * import { closeShared, openShared } from "@concur/shm/process";
 *
 * const mutex = openShared(Mutex, "m");
 * closeShared(mutex);
 * ```
 */
export function closeShared(object: object): void {
  for (const memory of memories.get(object) ?? []) memory.close();
}

/**
 * Removes a name. Processes that have the object open keep using it; the
 * memory is freed when the last one closes it.
 *
 * @param name The name or absolute path given to {@linkcode openShared}.
 * @param options `dir` for names.
 * @returns Whether a file was removed.
 *
 * @example
 * ```ts ignore
 * import { unlinkShared } from "@concur/shm";
 *
 * unlinkShared("jobs");
 * ```
 */
export function unlinkShared(name: string, options?: { dir?: string }): boolean {
  const path = sharedPath(name, options?.dir);
  let parts: string[] = [];
  try {
    const descriptor = readSharedFile(path).descriptor;
    if (descriptor !== undefined) {
      const handle = rebasePaths(JSON.parse(descriptor), (p: string) => path + p);
      parts = memoryPaths(handle).filter((p) => p !== path);
    }
  } catch {
    // not one of ours, or already gone: remove just the name
  }
  for (const part of parts) {
    try {
      Deno.removeSync(part);
    } catch {
      // already removed
    }
  }
  try {
    Deno.removeSync(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * A copy of a handle with every memory path mapped by `map`. Descriptors
 * store paths relative to the main file (`""`, `".part1"`...), so an object
 * keeps working when its files are renamed together.
 */
function rebasePaths<H>(value: H, map: (path: string) => string): H {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((item) => rebasePaths(item, map)) as H;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    const memory = item as { backend?: unknown; path?: unknown };
    out[key] = key === "memory" && memory && typeof memory.path === "string"
      ? { ...memory, path: map(memory.path) }
      : rebasePaths(item, map);
  }
  return out as H;
}

/** Every memory path in a handle (at any depth). */
function memoryPaths(value: unknown, out: string[] = []): string[] {
  if (value === null || typeof value !== "object") return out;
  const memory = (value as { memory?: { path?: unknown } }).memory;
  if (memory && typeof memory.path === "string") out.push(memory.path);
  for (const item of Object.values(value)) memoryPaths(item, out);
  return out;
}
