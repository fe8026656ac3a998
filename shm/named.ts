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
} from "./_shared_file.ts";

export { defaultSharedDir };
export type { FileMode };
import { SabMemory } from "./sab_memory.ts";

/** How {@linkcode openShared} treats an existing or missing name. */
export type CreateMode = "if-missing" | "exclusive" | "never";

/** Options of {@linkcode openShared}. */
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
}

/** A primitive class that named objects can be made of. */
export interface SharedKind<T> {
  /** The class name, which is the primitive's kind (`"Mutex"`, `"Queue"`...). */
  readonly name: string;
  /** Revives an object from its handle (checks kind, version and parameters). */
  from(handle: PrimitiveHandle<never>): T;
}

/** Where a named object lives and which memory it uses. */
export interface SharedInfo {
  /** The file. */
  readonly path: string;
  /** `"mmap"` or `"file"`. */
  readonly backend: FileMode;
}

const NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$/;
const PREFIX = "concur-";

/** Memories of the objects this module opened, for close and info. */
const memories = new WeakMap<object, Memory & { close(): void; path: string }>();

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

/** The backend a new object gets with `backend: "auto"`. */
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
 * import { Mutex, openShared, unlinkShared } from "@concur/shm";
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
  const make = construct ??
    ((allocate: MemoryAllocator) => new (Kind as unknown as new (o: unknown) => T)({ allocate }));
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

/** Creates the object under a private name and links it into place; undefined if the name exists. */
function tryCreate<T extends object>(
  Kind: SharedKind<T>,
  path: string,
  options: OpenSharedOptions | undefined,
  make: (allocate: MemoryAllocator) => T,
): T | undefined {
  if (exists(path)) return undefined;
  const backend = resolveBackend(options?.backend);
  const temporary = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  let memory: (Memory & { close(): void; path: string }) | undefined;
  const allocate: MemoryAllocator = (byteLength) => {
    if (memory !== undefined) throw new Error("A shared object allocates its memory once");
    createSharedFile(temporary, (byteLength + 3) & ~3, backend, options?.leaseMs ?? 0);
    memory = backend === "mmap"
      ? MmapMemory.open(temporary, path)
      : FileMemory.open(temporary, {}, path);
    return memory;
  };
  try {
    const object = make(allocate);
    if (memory === undefined) {
      throw new TypeError(
        `Cannot create shared ${Kind.name}: the constructor ignored its allocator`,
      );
    }
    try {
      Deno.linkSync(temporary, path);
    } catch (error) {
      if (error instanceof Deno.errors.AlreadyExists) {
        memory.close();
        return undefined;
      }
      throw error;
    }
    memories.set(object, memory);
    return object;
  } catch (error) {
    memory?.close();
    throw error;
  } finally {
    try {
      Deno.removeSync(temporary);
    } catch {
      // never created
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
  const memory = info.mode === "mmap"
    ? MmapMemory.open(path)
    : FileMemory.open(path, options?.leaseMs === undefined ? {} : { leaseMs: options.leaseMs });
  try {
    if (make !== undefined) checkSameCreation(Kind, path, memory, make);
    const object = reviveOn(Kind, memory);
    memories.set(object, memory);
    return object;
  } catch (error) {
    memory.close();
    throw error;
  }
}

/**
 * Revives `Kind` on an already opened memory: `Kind.from` attaches through
 * the backend registry, which this hands the open memory to, so the object
 * uses exactly the memory that will be closed with it.
 */
function reviveOn<T>(Kind: SharedKind<T>, memory: Memory & { path: string }): T {
  const handle = { kind: Kind.name, memory: memory.handle() } as PrimitiveHandle<never>;
  handOver = memory;
  try {
    return Kind.from(handle);
  } finally {
    handOver = undefined;
  }
}

let handOver: Memory | undefined;
for (
  const [backend, open] of [
    ["mmap", (h: Parameters<typeof MmapMemory.from>[0]) => MmapMemory.from(h)],
    ["file", (h: Parameters<typeof FileMemory.from>[0]) => FileMemory.from(h)],
  ] as const
) {
  registerMemoryBackend(backend, (handle) => {
    const given = handOver;
    if (given !== undefined && given.backend === backend && given.handle().path === handle.path) {
      handOver = undefined;
      return given;
    }
    return open(handle);
  });
}

/**
 * Compares the stored header with the one `make` would write: same kind,
 * byte length and parameters (the header cells 1..7), on a scratch memory.
 */
function checkSameCreation<T>(
  Kind: SharedKind<T>,
  path: string,
  memory: Memory,
  make: (allocate: MemoryAllocator) => T,
): void {
  let scratch: Memory | undefined;
  make((byteLength) => (scratch = new SabMemory(byteLength)));
  if (scratch === undefined) return;
  // Another kind or version, or no header at all: from() reports it precisely.
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
 * import { Mutex, openShared, sharedInfo } from "@concur/shm";
 *
 * console.log(sharedInfo(openShared(Mutex, "m")).backend); // "mmap" or "file"
 * ```
 */
export function sharedInfo(object: object): SharedInfo {
  const memory = memories.get(object);
  if (memory === undefined) {
    throw new TypeError("Not a named shared object (open it with openShared)");
  }
  return { path: memory.path, backend: memory.backend as FileMode };
}

/**
 * Closes this process's access to a named object (its mapping or file);
 * the object must not be used afterwards. Idempotent.
 *
 * @param object An object from {@linkcode openShared}.
 *
 * @example
 * ```ts ignore
 * import { closeShared, Mutex, openShared } from "@concur/shm";
 *
 * const mutex = openShared(Mutex, "m");
 * closeShared(mutex);
 * ```
 */
export function closeShared(object: object): void {
  memories.get(object)?.close();
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
  try {
    Deno.removeSync(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
