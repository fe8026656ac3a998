/**
 * The file that holds one shared object for the process backends (file-backed
 * and memory-mapped memories), and its small backend header.
 *
 * File layout (little-endian 32-bit cells):
 *
 * | bytes     | content                                                       |
 * |-----------|---------------------------------------------------------------|
 * | 0..3      | FILE_MAGIC (`"SHMF"`), written last when the file is created  |
 * | 4..7      | file layout version ({@linkcode FILE_VERSION})                 |
 * | 8..11     | mode: 1 = file-backed (flock), 2 = memory-mapped (futex)       |
 * | 12..15    | region offset (always {@linkcode REGION_OFFSET})               |
 * | 16..19    | region length (the primitive's byte length)                    |
 * | 20..23    | file mode: default lease of the file lock, in µs (0: none)      |
 * | 24..27    | file mode: length of the committed journal (0: none)           |
 * | 28..31    | length of the descriptor (the object's handle as JSON; 0: none) |
 * | 32..127   | waiter counts, {@linkcode WAIT_SLOTS} cells (cell c → slot c % 24) |
 * | 128..223  | notify sequence numbers (file mode), one per slot              |
 * | 224..227  | file mode: generation of the active lease log (0: none)        |
 * | 228..231  | file mode: last lease-log generation used                      |
 * | 256..     | the region: the primitive's own memory (its header first)      |
 * | after it  | file mode only: the journal ({@linkcode journalCapacity} bytes) |
 * | then      | file mode only: the lease log ({@linkcode LEASE_LOG_BYTES} bytes, sparse until used) |
 * | then      | the descriptor, written once before the file gets its name     |
 *
 * The mode is fixed at creation: the two backends do not exclude each other
 * (one uses flock, the other CPU atomics), so a file is only ever used
 * through the backend it was created for, and attaching with the other is
 * refused. Waiter counts let `notify` skip its work (a futex syscall, or a
 * sequence bump) when nobody waits: a waiter increments its slot before it
 * re-checks the cell and sleeps; a notifier changes the cell before it reads
 * the slot. Both are sequentially consistent, so either the notifier sees the
 * waiter, or the waiter sees the changed cell and does not sleep.
 *
 * @module
 */

import { LayoutError } from "../primitives/errors.ts";
import type { MemoryHandle } from "./memory.ts";

/** "SHMF" in ASCII, little-endian. */
export const FILE_MAGIC = 0x464d4853;
/** Layout version of the backend header. */
export const FILE_VERSION = 2; // 2: lease log (header cells 56, 57; the log before the descriptor)
/** Where the region starts in the file. */
export const REGION_OFFSET = 256;
/** File mode: the cell holding the committed journal's length (0: none). */
export const JOURNAL_CELL = 6;
/** File mode: the cell holding the generation of the active lease log (0: none). */
export const LOG_CELL = 56;
/** File mode: the cell holding the last lease-log generation used. */
export const LOG_GEN_CELL = 57;
/** The cell holding the descriptor's length (0: none). */
export const DESCRIPTOR_CELL = 7;
/** First cell of the waiter counts. */
export const WAITERS_CELL = 8;
/** First cell of the notify sequences. */
export const SEQUENCE_CELL = 32;
/** Number of waiter slots (cells hash onto them). */
export const WAIT_SLOTS = 24;

/**
 * How a shared file is used.
 *
 * @example
 * ```ts ignore
 * import { Event } from "@concur/shm";
 * import { type FileMode, openShared, sharedInfo } from "@concur/shm/process";
 *
 * const backend: FileMode = "file"; // works without FFI permission
 * const flag = openShared(Event, "flag", { backend });
 * console.log(sharedInfo(flag).backend); // "file"
 * ```
 */
export type FileMode = "file" | "mmap";

const MODE_CODE: Record<FileMode, number> = { file: 1, mmap: 2 };

/** What a valid shared file's backend header says. */
export interface SharedFileInfo {
  /** Which backend the file was created for. */
  readonly mode: FileMode;
  /** Where the region starts in the file. */
  readonly regionOffset: number;
  /** The region's length in bytes. */
  readonly regionLength: number;
  /** File mode: the lease every process uses by default (ms, 0: none). */
  readonly leaseMs: number;
  /** The descriptor (the object's handle as JSON), if one was written. */
  readonly descriptor?: string;
}

/** A symbol-keyed method of the process memories: changes the path their handles name. */
export const RELABEL: unique symbol = Symbol("relabel");

/**
 * Appends the descriptor (the object's full handle, as JSON) to a file that
 * has no name yet, and records its length in the header.
 */
export function writeDescriptor(path: string, info: SharedFileInfo, json: string): void {
  const bytes = new TextEncoder().encode(json);
  const at = fileSize(info.regionLength, info.mode);
  const file = Deno.openSync(path, { read: true, write: true });
  try {
    file.truncateSync(at + bytes.length);
    writeAt(file, bytes, at);
    writeAt(file, new Uint8Array(new Int32Array([bytes.length]).buffer), DESCRIPTOR_CELL * 4);
  } finally {
    file.close();
  }
}

/**
 * The directory named objects and owner files go to by default: `/tmp` on
 * Unix, the temp directory on Windows. It is the same in every process
 * whatever its permissions (`/dev/shm` would need `--allow-all` in Deno 2.9,
 * and `TMPDIR` needs `--allow-env`), so a name means the same file everywhere.
 *
 * @example
 * ```ts ignore
 * import { defaultSharedDir } from "@concur/shm";
 *
 * console.log(defaultSharedDir()); // "/tmp"
 * ```
 */
export function defaultSharedDir(): string {
  if (Deno.build.os !== "windows") return "/tmp";
  try {
    return Deno.env.get("TEMP") ?? "C:\\Windows\\Temp";
  } catch {
    return "C:\\Windows\\Temp";
  }
}

/**
 * Bytes of journal a file-backed object reserves: room for every byte up to
 * the region's end plus an 8-byte entry header per 4 KiB block (a batch can
 * change at most all of them).
 */
export function journalCapacity(regionLength: number): number {
  const data = REGION_OFFSET + regionLength;
  return data + 8 * (Math.ceil(data / 4096) + 1);
}

/**
 * Bytes of lease log a file-backed object reserves (see `shm/file_memory.ts`):
 * a lease that fills it writes its changes in place and starts over.
 */
export const LEASE_LOG_BYTES: number = 64 * 1024;

/** The file size for a region of `regionLength` bytes in `mode`. */
export function fileSize(regionLength: number, mode: FileMode = "mmap"): number {
  const data = REGION_OFFSET + regionLength;
  return mode === "file" ? data + journalCapacity(regionLength) + LEASE_LOG_BYTES : data;
}

/**
 * Creates a new file (it must not exist) sized for a region of
 * `regionLength` bytes, owner-only (0600), with a complete backend header.
 */
export function createSharedFile(
  path: string,
  regionLength: number,
  mode: FileMode,
  leaseMs: number = 0,
): void {
  if (!Number.isSafeInteger(regionLength) || regionLength < 4 || regionLength % 4 !== 0) {
    throw new RangeError(
      `Cannot create shared file: region length must be a positive multiple of 4: received ${regionLength}`,
    );
  }
  const file = Deno.openSync(path, { read: true, write: true, createNew: true, mode: 0o600 });
  try {
    file.truncateSync(fileSize(regionLength, mode));
    const header = new Int32Array(6);
    header[5] = Math.max(0, Math.min(1_000_000, Math.round(leaseMs * 1000)));
    header[1] = FILE_VERSION;
    header[2] = MODE_CODE[mode];
    header[3] = REGION_OFFSET;
    header[4] = regionLength;
    writeAt(file, new Uint8Array(header.buffer, 4), 4);
    writeAt(file, new Uint8Array(new Int32Array([FILE_MAGIC]).buffer), 0);
  } finally {
    file.close();
  }
}

function writeAt(file: Deno.FsFile, bytes: Uint8Array, position: number): void {
  file.seekSync(position, Deno.SeekMode.Start);
  let done = 0;
  while (done < bytes.length) done += file.writeSync(bytes.subarray(done));
}

/**
 * Reads and checks the backend header of `path`.
 *
 * @throws {LayoutError} If the file is not a shared object file of this module
 * (too short, wrong magic, unknown version, inconsistent sizes).
 * @throws {Deno.errors.NotFound} If it does not exist.
 */
export function readSharedFile(path: string): SharedFileInfo {
  const file = Deno.openSync(path, { read: true });
  try {
    const stat = file.statSync();
    if (!stat.isFile) {
      throw new LayoutError(
        "not-shared",
        `Cannot open ${path}: it is ${
          stat.isDirectory ? "a directory" : "not a regular file"
        }, not a shared object file`,
      );
    }
    const size = stat.size;
    const header = new Int32Array(8);
    if (size >= 32) readFull(file, new Uint8Array(header.buffer), 0);
    const info = checkSharedHeader(path, header, size);
    const length = header[DESCRIPTOR_CELL];
    if (length === 0) return info;
    const at = fileSize(info.regionLength, info.mode);
    if (length < 0 || at + length > size) {
      throw new LayoutError(
        "bad-parameters",
        `Cannot open ${path}: its descriptor (${length} bytes at ${at}) does not fit the file`,
      );
    }
    const bytes = new Uint8Array(length);
    readFull(file, bytes, at);
    return { ...info, descriptor: new TextDecoder().decode(bytes) };
  } finally {
    file.close();
  }
}

function readFull(file: Deno.FsFile, bytes: Uint8Array, position: number): void {
  file.seekSync(position, Deno.SeekMode.Start);
  let done = 0;
  while (done < bytes.length) {
    const n = file.readSync(bytes.subarray(done));
    if (n === null) break;
    done += n;
  }
}

/** Validates a backend header already read (`header` holds cells 0..7). */
export function checkSharedHeader(
  path: string,
  header: Int32Array,
  size: number,
): SharedFileInfo {
  if (size < REGION_OFFSET || header[0] !== FILE_MAGIC) {
    throw new LayoutError(
      "bad-magic",
      `Cannot open ${path}: it is not a @concur/shm shared object file${
        size < REGION_OFFSET ? ` (${size} bytes)` : ""
      }`,
    );
  }
  if (header[1] !== FILE_VERSION) {
    throw new LayoutError(
      "wrong-version",
      `Cannot open ${path}: shared file layout version ${
        header[1]
      } is not the supported version ${FILE_VERSION}`,
    );
  }
  const mode = header[2] === 1 ? "file" : header[2] === 2 ? "mmap" : undefined;
  if (
    mode === undefined || header[3] !== REGION_OFFSET || header[4] < 4 ||
    size < fileSize(header[4], mode)
  ) {
    throw new LayoutError(
      "bad-parameters",
      `Cannot open ${path}: its shared file header is inconsistent (mode ${header[2]}, region ${
        header[3]
      }+${header[4]}, file ${size} bytes)`,
    );
  }
  return { mode, regionOffset: header[3], regionLength: header[4], leaseMs: header[5] / 1000 };
}

/** A key naming the file itself (device and inode), stable across renames and links. */
export function fileKey(path: string): string {
  const info = Deno.statSync(path);
  return `${info.dev}:${info.ino}`;
}

/**
 * Opens the file a handle of `backend` names (with `open`) and checks that
 * the handle describes the region that file holds; shared by the file-backed
 * and the memory-mapped memories' `from()`.
 */
export function attachFileHandle<M extends { readonly byteLength: number; close(): void }>(
  handle: MemoryHandle,
  backend: string,
  open: (path: string) => M,
): M {
  if (handle?.backend !== backend || typeof handle.path !== "string") {
    throw new LayoutError(
      "not-shared",
      `Cannot attach memory: expected a "${backend}" handle with a path`,
    );
  }
  const memory = open(handle.path);
  if (handle.byteOffset !== REGION_OFFSET || handle.byteLength !== memory.byteLength) {
    memory.close();
    throw new LayoutError(
      "bad-parameters",
      `Cannot attach ${handle.path}: the handle says ${handle.byteLength} bytes at ${handle.byteOffset}, the file holds ${memory.byteLength} at ${REGION_OFFSET}`,
    );
  }
  return memory;
}
