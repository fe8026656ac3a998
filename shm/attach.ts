/**
 * Turns a {@linkcode MemoryHandle} back into a {@linkcode Memory}.
 *
 * Backends register themselves by name; `"sab"` is always present. The
 * process backends (file, mmap) register when their module is imported, so a
 * program that only uses workers never loads them (nor needs their
 * permissions).
 *
 * @module
 */

import { LayoutError } from "../primitives/errors.ts";
import type { Memory, MemoryHandle } from "./memory.ts";
import { SabMemory } from "./sab_memory.ts";

const backends = new Map<string, (handle: MemoryHandle) => Memory>([
  ["sab", (handle) => SabMemory.from(handle)],
]);

/**
 * Registers how to attach handles of one backend.
 *
 * @param backend The backend name handles carry.
 * @param attach Builds a memory from such a handle.
 */
export function registerMemoryBackend(
  backend: string,
  attach: (handle: MemoryHandle) => Memory,
): void {
  backends.set(backend, attach);
}

/** Whether handles of `backend` can be attached in this thread (its module was imported). */
export function hasMemoryBackend(backend: string): boolean {
  return backends.has(backend);
}

/**
 * Attaches to the memory a handle describes.
 *
 * @param handle A handle from some `Memory.handle()`.
 * @returns The memory.
 * @throws {LayoutError} If the handle is not a handle, or names an unknown backend.
 */
export function attachMemory(handle: MemoryHandle): Memory {
  if (handle === null || typeof handle !== "object" || typeof handle.backend !== "string") {
    throw new LayoutError(
      "not-shared",
      `Cannot attach memory: expected a memory handle, received ${typeof handle}`,
    );
  }
  const attach = backends.get(handle.backend);
  if (attach === undefined) {
    throw new LayoutError(
      "not-shared",
      `Cannot attach memory: unknown backend "${handle.backend}" (import its module first)`,
    );
  }
  return attach(handle);
}
