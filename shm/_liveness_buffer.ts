/**
 * The shared buffer behind this program's liveness table (`shm/liveness.ts`),
 * and how it reaches threads that this module did not start.
 *
 * A worker started by this module's handles receives the table at start-up.
 * A plain `new Worker` does not: without it, a lock held by a managed worker
 * that died could be taken over by every thread except that one, which
 * would wait for it forever. So every handle of a shared-buffer memory
 * carries the buffer (`SabMemory.handle`), and a thread that has none
 * adopts the first one it meets when it revives a handle (`SabMemory.from`).
 *
 * This module imports nothing, so that both `sab_memory.ts` and
 * `liveness.ts` can use it.
 *
 * @module
 */

/** Live managed ids the table can hold at once. */
export const LIVENESS_SLOTS = 4096;
/** Bytes of the table: a counter cell, then one cell per slot. */
export const LIVENESS_TABLE_BYTES = (1 + LIVENESS_SLOTS) * 4;

let buffer: SharedArrayBuffer | undefined;

/** This thread's liveness buffer, created on first use. */
export function livenessBuffer(): SharedArrayBuffer {
  buffer ??= new SharedArrayBuffer(LIVENESS_TABLE_BYTES);
  return buffer;
}

/** Whether this code runs on the main thread (no worker global scope). */
const IN_MAIN_THREAD =
  typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope === "undefined";

/**
 * The buffer a handle made by this thread carries, if any. The main thread
 * roots every tree of managed workers, so its handles always carry its
 * table (created on first use). Another thread passes on only a table it
 * already has: one made just for a handle would be a second table in the
 * program, in which ids issued from the first one look dead.
 */
export function handleLivenessBuffer(): SharedArrayBuffer | undefined {
  return IN_MAIN_THREAD ? livenessBuffer() : buffer;
}

/** Whether this thread has a liveness buffer (created or adopted). */
export function hasLivenessBuffer(): boolean {
  return buffer !== undefined;
}

/**
 * Adopts `candidate` as this thread's buffer if the thread has none yet
 * (`replace`: even if it has one, at the start-up of a managed worker) and
 * it looks like a table.
 */
export function adoptLivenessBuffer(candidate: unknown, replace = false): void {
  if (buffer !== undefined && !replace) return;
  if (candidate instanceof SharedArrayBuffer && candidate.byteLength === LIVENESS_TABLE_BYTES) {
    buffer = candidate;
  }
}
