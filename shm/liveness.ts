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

/** Live managed ids the table can hold at once. */
export const LIVENESS_SLOTS = 4096;
const COUNTER = 0;
/** Set in managed ids whose liveness an external oracle knows (process owners). */
export const EXTERNAL_OWNER_BIT = 0x10000000;
const NUMBER_MASK = EXTERNAL_OWNER_BIT - 1;

let table: Memory | undefined;

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

/** The table of this program (created on first use). */
export function livenessTable(): Memory {
  table ??= new SabMemory((1 + LIVENESS_SLOTS) * 4);
  return table;
}

/** The handle to pass to a worker so it shares this program's table. */
export function livenessHandle(): MemoryHandle {
  return livenessTable().handle();
}

/** Adopts the table of the program that started this worker (at worker start-up). */
export function installLivenessTable(handle: MemoryHandle): void {
  table = attachMemory(handle);
}

/**
 * Draws a fresh managed owner id and records it as alive.
 *
 * @throws {RangeError} If {@linkcode LIVENESS_SLOTS} ids are alive already.
 */
export function registerOwner(): number {
  const memory = livenessTable();
  for (let tries = 0; tries < LIVENESS_SLOTS; tries++) {
    const number = ((memory.add(COUNTER, 1) + 1) & NUMBER_MASK) || 1;
    const id = MANAGED_OWNER_BIT | number;
    if (memory.compareExchange(slotOf(id), 0, id) === 0) return id;
  }
  throw new RangeError(`Cannot start worker: ${LIVENESS_SLOTS} managed workers are alive already`);
}

/** Records that the thread `id` has ended (idempotent; later lockers may take its locks over). */
export function markOwnerDead(id: number): void {
  if ((id & MANAGED_OWNER_BIT) === 0 || (id & EXTERNAL_OWNER_BIT) !== 0) return;
  livenessTable().compareExchange(slotOf(id), id, 0);
}

/**
 * Whether `id` is known to be dead: a managed id whose slot no longer holds
 * it. Unmanaged ids, and every id in a thread that has no table, are
 * presumed alive.
 */
export function isOwnerDead(id: number): boolean {
  if ((id & MANAGED_OWNER_BIT) === 0) return false;
  if ((id & EXTERNAL_OWNER_BIT) !== 0) return oracleFor(id)?.isDead(id) ?? false;
  return table !== undefined && table.load(slotOf(id)) !== id;
}

/** Whether `id` is one whose death could be detected (so waits on it are sliced). */
export function isManagedOwner(id: number): boolean {
  if ((id & MANAGED_OWNER_BIT) === 0) return false;
  if ((id & EXTERNAL_OWNER_BIT) !== 0) return oracleFor(id) !== undefined;
  return table !== undefined;
}
