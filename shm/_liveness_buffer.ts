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

/** Bytes of the buffer: the table, then a random id telling tables apart. */
const BUFFER_BYTES = LIVENESS_TABLE_BYTES + 4;
const TABLE_ID_CELL = LIVENESS_TABLE_BYTES / 4;

let buffer: SharedArrayBuffer | undefined;
/** Whether this thread met a handle carrying a table other than its own. */
let metOtherTable = false;

/** This thread's liveness buffer, created on first use. */
export function livenessBuffer(): SharedArrayBuffer {
  if (buffer === undefined) {
    buffer = new SharedArrayBuffer(BUFFER_BYTES);
    new Int32Array(buffer)[TABLE_ID_CELL] = (Math.random() * 0x7fffffff | 0) || 1;
  }
  return buffer;
}

/**
 * Whether this code runs on the main thread: no worker global scope (web
 * workers have `WorkerGlobalScope`, node:worker_threads workers under Deno
 * only `DedicatedWorkerGlobalScope`).
 */
const IN_MAIN_THREAD = typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope ===
    "undefined" &&
  typeof (globalThis as { DedicatedWorkerGlobalScope?: unknown }).DedicatedWorkerGlobalScope ===
    "undefined";

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
 * Whether this thread has met a handle carrying another table than its own
 * (a thread not started by this module that started workers itself before
 * it revived a handle of the main thread's). Ids are unique only within one
 * table, so such a thread cannot tell a dead owner from a live owner of the
 * other table: it must presume every owner it does not see alive is alive.
 */
export function metOtherLivenessTable(): boolean {
  return metOtherTable;
}

/**
 * Adopts `candidate` as this thread's buffer if it looks like a table and
 * the thread has none yet (`replace`: even if it has one, at the start-up
 * of a managed worker); notes a different table (see
 * {@linkcode metOtherLivenessTable}).
 */
export function adoptLivenessBuffer(candidate: unknown, replace = false): void {
  if (!(candidate instanceof SharedArrayBuffer) || candidate.byteLength !== BUFFER_BYTES) return;
  if (buffer === undefined || replace) {
    buffer = candidate;
    return;
  }
  // Structured clone gives every copy of a buffer a new object: compare ids.
  const own = Atomics.load(new Int32Array(buffer), TABLE_ID_CELL);
  if (Atomics.load(new Int32Array(candidate), TABLE_ID_CELL) !== own) metOtherTable = true;
}
