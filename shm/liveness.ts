/**
 * The program-wide liveness table: unique owner ids for the threads this
 * module starts, and whether each is still alive.
 *
 * Robust locks need two facts about the owner id found in a lock word: that
 * no other thread uses the same id, and whether its thread has ended. The
 * table gives both for "managed" ids (those with `MANAGED_OWNER_BIT` set),
 * which the worker handles draw with {@linkcode registerOwner} when they start
 * a worker. Randomly drawn ids (threads not started by this module, and the
 * main thread) are never reported dead: nothing is known about them.
 *
 * Layout (32-bit cells of one shared memory, created by the first thread that
 * starts a worker and passed to every worker it starts, so nested workers
 * share it):
 *
 * | cell            | content                                                   |
 * |-----------------|-----------------------------------------------------------|
 * | 0               | last id number handed out (only grows, wraps at 2^29)      |
 * | 1 + n % SLOTS   | the managed id alive in that slot, or 0                    |
 *
 * Ids of other kinds (a process's owner id, `shm/process_owner.ts`) are
 * managed too, but by an external oracle registered with
 * {@linkcode registerExternalLiveness}: bit 28 ({@linkcode EXTERNAL_OWNER_BIT})
 * is theirs, so thread ids drawn here stay below 2^28.
 *
 * Thread ids drawn here are unique within one program only: another
 * process counts from 1 too, and its table knows nothing of ours. So a
 * program whose threads take locks in objects shared with other processes
 * installs an {@linkcode OwnerIssuer} (`shm/process_owner.ts` does, when the
 * process registers as an owner): its threads then get external ids, unique
 * across processes, whose liveness other processes can ask the oracle.
 * Such an id also holds a slot of this table while its thread lives, so this
 * program still learns of the thread's end at once (the slot is cleared);
 * once the slot no longer holds it, the oracle decides.
 *
 * Invariants: a slot holds an id exactly from its registration until
 * {@linkcode markOwnerDead}; registration claims a slot with a
 * compare-exchange from 0, so two live ids never share one. An id is dead
 * when its slot holds anything else (0 or a later id), so reusing a slot
 * after the counter wraps never revives an old id.
 *
 * @module
 */

import { MANAGED_OWNER_BIT } from "../primitives/_owner.ts";
import { attachMemory } from "./attach.ts";
import type { Memory, MemoryHandle } from "./memory.ts";
import { SabMemory } from "./sab_memory.ts";
import {
  adoptLivenessBuffer,
  hasLivenessBuffer,
  LIVENESS_SLOTS,
  LIVENESS_TABLE_BYTES,
  livenessBuffer,
  metOtherLivenessTable,
} from "./_liveness_buffer.ts";

export { LIVENESS_SLOTS };
const COUNTER = 0;
/** Set in managed ids whose liveness an external oracle knows (process owners). */
export const EXTERNAL_OWNER_BIT = 0x10000000;
const NUMBER_MASK = EXTERNAL_OWNER_BIT - 1;

let table: Memory | undefined;

/**
 * Draws owner ids for the threads this program starts, in place of the
 * table's own numbers (see the module documentation).
 */
export interface OwnerIssuer {
  /** A fresh external id (with {@linkcode EXTERNAL_OWNER_BIT}); throws if it cannot make one. */
  issue(): number;
  /** The thread of `id` (one this program issued) has ended. */
  retire(id: number): void;
  /** Structured-cloneable data with which a started worker installs the same issuer. */
  readonly config: unknown;
}

let issuer: OwnerIssuer | undefined;

/** Installs (or removes) this thread's owner issuer. */
export function setOwnerIssuer(next: OwnerIssuer | undefined): void {
  issuer = next;
}

/** The config of this thread's owner issuer, for the workers it starts (undefined: none). */
export function ownerIssuerConfig(): unknown {
  return issuer?.config;
}

/** A source of truth about managed ids this table does not hold (e.g. processes). */
export interface ExternalLiveness {
  /** Whether `id` is one of this oracle's ids. */
  owns(id: number): boolean;
  /** Whether the owner `id` (one of this oracle's) is known to be dead. */
  isDead(id: number): boolean;
}

const oracles: ExternalLiveness[] = [];

/**
 * Adds an oracle for managed ids outside this table (ids with
 * {@linkcode EXTERNAL_OWNER_BIT}); robust locks then recover locks held by
 * its dead owners too.
 */
export function registerExternalLiveness(oracle: ExternalLiveness): void {
  if (!oracles.includes(oracle)) oracles.push(oracle);
}

function oracleFor(id: number): ExternalLiveness | undefined {
  for (const oracle of oracles) if (oracle.owns(id)) return oracle;
  return undefined;
}

function slotOf(id: number): number {
  return 1 + ((id & NUMBER_MASK) % LIVENESS_SLOTS);
}

/** The table of this program (created on first use, or the one a revived handle brought). */
export function livenessTable(): Memory {
  table ??= SabMemory.from({
    backend: "sab",
    buffer: livenessBuffer(),
    byteOffset: 0,
    byteLength: LIVENESS_TABLE_BYTES,
  });
  return table;
}

/** The table, if this thread has one (started by this module, or it revived a handle). */
function knownTable(): Memory | undefined {
  return table ?? (hasLivenessBuffer() ? livenessTable() : undefined);
}

/** The handle to pass to a worker so it shares this program's table. */
export function livenessHandle(): MemoryHandle {
  return livenessTable().handle();
}

/** Adopts the table of the program that started this worker (at worker start-up). */
export function installLivenessTable(handle: MemoryHandle): void {
  table = attachMemory(handle);
  adoptLivenessBuffer(handle.buffer, true);
}

/**
 * Draws a fresh managed owner id and records it as alive.
 *
 * @throws {RangeError} If {@linkcode LIVENESS_SLOTS} ids are alive already.
 */
export function registerOwner(): number {
  const memory = livenessTable();
  for (let tries = 0; tries < LIVENESS_SLOTS; tries++) {
    if (issuer !== undefined) {
      const external = issuer.issue();
      if (memory.compareExchange(slotOf(external), 0, external) === 0) return external;
      issuer.retire(external); // its slot is taken by a live id: draw another
      continue;
    }
    const number = ((memory.add(COUNTER, 1) + 1) & NUMBER_MASK) || 1;
    const id = MANAGED_OWNER_BIT | number;
    if (memory.compareExchange(slotOf(id), 0, id) === 0) return id;
  }
  throw new RangeError(`Cannot start worker: ${LIVENESS_SLOTS} managed workers are alive already`);
}

/** Records that the thread `id` has ended (idempotent; later lockers may take its locks over). */
export function markOwnerDead(id: number): void {
  if ((id & MANAGED_OWNER_BIT) === 0) return;
  // Only the caller that clears the slot retires an external id (the worker
  // and its parent both report its end): a second unlink by name could
  // remove the link of a new owner that drew the same number meanwhile.
  const cleared = livenessTable().compareExchange(slotOf(id), id, 0) === id;
  if (cleared && (id & EXTERNAL_OWNER_BIT) !== 0) issuer?.retire(id);
}

/**
 * Whether `id` is known to be dead: a managed id whose slot no longer holds
 * it. Unmanaged ids, and every id in a thread that has no table, are
 * presumed alive.
 */
export function isOwnerDead(id: number): boolean {
  if ((id & MANAGED_OWNER_BIT) === 0) return false;
  const known = knownTable();
  if ((id & EXTERNAL_OWNER_BIT) !== 0) {
    // One of this program's live threads holds its slot; otherwise the oracle knows.
    if (known !== undefined && known.load(slotOf(id)) === id) return false;
    return oracleFor(id)?.isDead(id) ?? false;
  }
  if (known === undefined || known.load(slotOf(id)) === id) return false;
  // Not alive in this table: dead, unless another table may have issued it.
  return !metOtherLivenessTable();
}

/** Whether `id` is one whose death could be detected (so waits on it are sliced). */
export function isManagedOwner(id: number): boolean {
  if ((id & MANAGED_OWNER_BIT) === 0) return false;
  if ((id & EXTERNAL_OWNER_BIT) !== 0) return oracleFor(id) !== undefined;
  return knownTable() !== undefined;
}
