/**
 * The memory layout shared by `Queue` and `JoinableQueue` (which differ only
 * in their kind code and in using the unfinished-task cells).
 *
 * Cells (lines of 16 cells = 64 bytes keep the producers' and the consumers'
 * hot cells apart):
 *
 * | cell | name           | meaning                                                    |
 * |------|----------------|------------------------------------------------------------|
 * | 4..7 | header params  | capacity, slot payload bytes, codec id, 0                  |
 * | 16   | TAIL           | stamp of the next slot to write (producers CAS it)         |
 * | 32   | HEAD           | stamp of the next slot to read (consumers CAS it)          |
 * | 48   | CLOSED         | 1 once `close()` was called                                 |
 * | 49   | GET_SLEEPERS   | consumers registered to sleep                              |
 * | 50   | PUT_SLEEPERS   | producers registered to sleep                              |
 * | 51   | NOT_EMPTY_BELL | futex word consumers sleep on; producers ring it           |
 * | 52   | NOT_FULL_BELL  | futex word producers sleep on; consumers ring it           |
 * | 64   | UNFINISHED     | JoinableQueue: items put and not yet marked done           |
 * | 65   | JOIN_BELL      | JoinableQueue: rung each time UNFINISHED reaches 0          |
 * | 80.. | slots          | `capacity` slots, each a whole number of cache lines        |
 *
 * A slot is `[stamp, length, claimer, counted, payload...]`, padded to a
 * multiple of 16 cells so that two slots never share a cache line (a
 * producer filling one slot does not disturb a consumer reading its
 * neighbour); the payload starts 16 bytes in, 8-byte aligned like the slot,
 * so copies of it go word by word. The claimer cell holds
 * `CLAIMED - owner` (see {@linkcode claimedBy}) from just before a producer
 * claims the slot (it names itself first, with a compare-exchange from 0)
 * until a consumer releases (or recovers) it, when it goes back to 0: a
 * slot stuck half-written names the thread or process that claimed it, all
 * the way to its publication.
 *
 * @module
 */

import { type Codec, codecById, createCodec, resolveCodec } from "../shm/codec.ts";
import type { Memory } from "../shm/memory.ts";
import {
  attachPrimitive,
  createMemory,
  type KindName,
  type MemoryAllocator,
  type PrimitiveHandle,
  readParam,
} from "./_header.ts";
import { LayoutError } from "./errors.ts";

/**
 * Layout version of both kinds (2: the claimer has its own slot cell; 3:
 * producers name themselves in it before they claim the slot, and a
 * JoinableQueue counts a put between its claim and its publication; 4: the
 * header keeps `maxMessageBytes` exactly, not rounded up to whole cells).
 */
export const QUEUE_VERSION = 4;
export const TAIL = 16;
export const HEAD = 32;
export const CLOSED = 48;
export const GET_SLEEPERS = 49;
export const PUT_SLEEPERS = 50;
export const NOT_EMPTY_BELL = 51;
export const NOT_FULL_BELL = 52;
export const UNFINISHED = 64;
export const JOIN_BELL = 65;
export const SLOTS = 80;
/** Stamp, length, claimer, counted (also keeps the payload 8-byte aligned). */
export const SLOT_HEADER_CELLS = 4;
/** The slot cell holding the payload's length in bytes (or {@linkcode TOMBSTONE}). */
export const SLOT_LENGTH = 1;
/** The slot cell holding `CLAIMED - owner` while claimed (0 otherwise). */
export const SLOT_CLAIMER = 2;
/**
 * JoinableQueue: the put's counted mark (its position with the top bit set)
 * while the slot's put is counted in UNFINISHED and not yet taken (0
 * otherwise), so that a recovered put is uncounted once, and only if it was
 * counted (see `Queue#countPut`).
 */
export const SLOT_COUNTED = 3;
/** Length stored for a slot that carries no item (a put that lost to close). */
export const TOMBSTONE = -1;
/** Claimer cells at or below this hold `CLAIMED - owner`: claimed by that owner. */
export const CLAIMED = -2;

/** The claimer-cell value marking a slot claimed by `owner` (an id >= 1). */
export function claimedBy(owner: number): number {
  return CLAIMED - owner;
}
/** Largest capacity: stamps keep at least 7 bits of lap. */
export const MAX_CAPACITY: number = 1 << 24;
/** Largest payload per slot. */
export const MAX_SLOT_BYTES: number = 1 << 26;
/** Default capacity (a queue is never unbounded). */
export const DEFAULT_CAPACITY = 1024;
/** Default payload per slot. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1024;

/** Cells per slot for a payload of up to `slotBytes` (rounded up to whole cells). */
export function slotCells(slotBytes: number): number {
  return (SLOT_HEADER_CELLS + ((slotBytes + 3) >>> 2) + 15) & ~15;
}

/** Bytes the whole queue takes. */
export function queueByteLength(capacity: number, slotBytes: number): number {
  return (SLOTS + capacity * slotCells(slotBytes)) * 4;
}

/** Validated creation parameters. */
export interface QueueParams {
  capacity: number;
  slotBytes: number;
}

/** Checks user parameters; throws RangeError. */
export function checkQueueParams(
  kind: KindName,
  capacity: number,
  maxMessageBytes: number,
): QueueParams {
  if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_CAPACITY) {
    throw new RangeError(
      `Cannot create ${kind}: capacity must be an integer in [1, ${MAX_CAPACITY}], received ${capacity}`,
    );
  }
  if (
    !Number.isInteger(maxMessageBytes) || maxMessageBytes < 0 || maxMessageBytes > MAX_SLOT_BYTES
  ) {
    throw new RangeError(
      `Cannot create ${kind}: maxMessageBytes must be an integer in [0, ${MAX_SLOT_BYTES}], received ${maxMessageBytes}`,
    );
  }
  // Stored exactly (not rounded up to the cells it takes): it is also the
  // limit a put checks.
  const slotBytes = maxMessageBytes;
  const bytes = queueByteLength(capacity, slotBytes);
  if (bytes > 2 ** 31) {
    throw new RangeError(
      `Cannot create ${kind}: ${capacity} slots of ${slotBytes} bytes need ${bytes} bytes (at most 2 GiB)`,
    );
  }
  return { capacity, slotBytes };
}

/** Allocates and initialises a queue's memory (slot stamps = their index). */
export function createQueueMemory(
  kind: KindName,
  params: QueueParams,
  codecId: number,
  allocate: MemoryAllocator | undefined,
): Memory {
  const { capacity, slotBytes } = params;
  const memory = createMemory(
    kind,
    QUEUE_VERSION,
    queueByteLength(capacity, slotBytes),
    [capacity, slotBytes, codecId],
    allocate,
  );
  const cells = slotCells(slotBytes);
  for (let i = 0; i < capacity; i++) memory.store(SLOTS + i * cells, i);
  return memory;
}

/** Attaches to a queue's handle and re-validates its stored parameters. */
export function attachQueueMemory(handle: PrimitiveHandle, kind: KindName): Memory {
  const memory = attachPrimitive(handle, kind, QUEUE_VERSION, SLOTS * 4);
  const capacity = readParam(memory, 0);
  const slotBytes = readParam(memory, 1);
  if (
    capacity < 1 || capacity > MAX_CAPACITY || slotBytes < 0 || slotBytes > MAX_SLOT_BYTES ||
    memory.byteLength !== queueByteLength(capacity, slotBytes)
  ) {
    throw new LayoutError(
      "bad-parameters",
      `Cannot revive ${kind}: stored capacity ${capacity} and slot size ${slotBytes} do not match ${memory.byteLength} bytes`,
    );
  }
  return memory;
}

/** The codec a revived queue must use; checks it against the header. */
export function codecFor<T>(memory: Memory, kind: KindName, given: Codec<T> | undefined): Codec<T> {
  const id = readParam(memory, 2);
  if (id === 0) {
    if (given === undefined) {
      throw new LayoutError(
        "bad-parameters",
        `Cannot revive ${kind}: it was created with a custom codec; pass it as { codec }`,
      );
    }
    return resolveCodec(given, "bytes").codec;
  }
  const name = codecById(id);
  if (name === undefined) {
    throw new LayoutError("bad-parameters", `Cannot revive ${kind}: unknown codec id ${id}`);
  }
  if (given !== undefined && given.name !== name) {
    throw new LayoutError(
      "bad-parameters",
      `Cannot revive ${kind}: it carries the "${name}" codec, not "${given.name}"`,
    );
  }
  return createCodec(name) as Codec<T>;
}
