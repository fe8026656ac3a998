/**
 * The messages every IPC path carries, and their checks.
 *
 * Four workloads, the same on every path:
 * - `int4`: a 32-bit integer (a JS number for structured clone, 4 bytes LE on byte paths);
 * - `b64`: a 64-byte block;
 * - `json`: the small object `{"id": i, "name": "ticket", "ok": true}` (structured
 *   clone carries the object; byte paths carry its UTF-8 JSON);
 * - `b64k`: a 64 KiB block.
 *
 * Message `i` carries `i` (the sequence number) so the receiver checks order and
 * that nothing was lost or duplicated. Blocks are a fixed byte pattern with `i`
 * stamped in their first and last 4 bytes; 64-byte blocks are compared in full,
 * 64 KiB blocks at both stamps and 16 positions that vary with `i`.
 *
 * @module
 */

/** The workload names, in table order. */
export const WORKLOADS = ["int4", "b64", "json", "b64k"] as const;
/** One of {@linkcode WORKLOADS}. */
export type Workload = typeof WORKLOADS[number];

/** Block size of a workload that is a byte block. */
export function blockSize(workload: Workload): number {
  return workload === "b64k" ? 65536 : workload === "b64" ? 64 : 4;
}

const PATTERN = new Uint8Array(65536).map((_, k) => (k * 7 + 3) & 255);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Thrown when a message is not the one expected. */
export class MessageCheckError extends Error {
  /** @param detail What differs. */
  constructor(detail: string) {
    super(`message check failed: ${detail}`);
    this.name = "MessageCheckError";
  }
}

/** A fresh block of `size` bytes (the pattern, stamped with `i`). */
export function makeBlock(size: number, i: number): Uint8Array<ArrayBuffer> {
  const block = new Uint8Array(size);
  block.set(PATTERN.subarray(0, size));
  stampBlock(block, i);
  return block;
}

/**
 * Writes `i` into the first and last 4 bytes of `block` (pattern elsewhere).
 * Byte by byte, like {@linkcode checkBlock}'s reads: a `DataView` per
 * message costs more than a small message's whole transport (about 70 ns
 * here), and the stamp and the check are in every mechanism's timed loop.
 */
export function stampBlock(block: Uint8Array, i: number): void {
  writeUint32(block, 0, i);
  if (block.length >= 8) writeUint32(block, block.length - 4, i);
}

function writeUint32(block: Uint8Array, at: number, value: number): void {
  block[at] = value;
  block[at + 1] = value >>> 8;
  block[at + 2] = value >>> 16;
  block[at + 3] = value >>> 24;
}

function readUint32(block: Uint8Array, at: number): number {
  return (block[at] | (block[at + 1] << 8) | (block[at + 2] << 16) | (block[at + 3] << 24)) >>> 0;
}

/**
 * Checks a block made by {@linkcode makeBlock}: its size, the stamp at
 * both ends, and the pattern between them (every byte of a block up to 64
 * bytes, 16 bytes spread over a larger one).
 */
export function checkBlock(block: Uint8Array, size: number, i: number): void {
  if (!(block instanceof Uint8Array) || block.byteLength !== size) {
    throw new MessageCheckError(`message ${i}: expected ${size} bytes, got ${block?.byteLength}`);
  }
  const head = readUint32(block, 0);
  if (head !== i) throw new MessageCheckError(`expected message ${i}, got ${head}`);
  if (size < 8) return;
  if (readUint32(block, size - 4) !== i) throw new MessageCheckError(`message ${i}: torn tail`);
  if (size <= 64) {
    for (let k = 4; k < size - 4; k++) {
      if (block[k] !== PATTERN[k]) throw new MessageCheckError(`message ${i}: byte ${k} differs`);
    }
    return;
  }
  for (let j = 0; j < 16; j++) {
    const k = 4 + ((i * 2654435761 + j * 4099) >>> 0) % (size - 8);
    if (block[k] !== PATTERN[k]) throw new MessageCheckError(`message ${i}: byte ${k} differs`);
  }
}

/** A structured-clone value for message `i` (blocks may reuse `scratch`: postMessage copies). */
export function makeValue(workload: Workload, i: number, scratch?: Uint8Array): unknown {
  switch (workload) {
    case "int4":
      return i;
    case "json":
      return { id: i, name: "ticket", ok: true };
    default: {
      if (scratch) {
        stampBlock(scratch, i);
        return scratch;
      }
      return makeBlock(blockSize(workload), i);
    }
  }
}

/** Checks a structured-clone value against message `i`. */
export function checkValue(workload: Workload, value: unknown, i: number): void {
  switch (workload) {
    case "int4":
      if (value !== i) throw new MessageCheckError(`expected ${i}, got ${value}`);
      return;
    case "json": {
      const object = value as { id: number; name: string; ok: boolean };
      if (object?.id !== i || object.name !== "ticket" || object.ok !== true) {
        throw new MessageCheckError(`expected JSON message ${i}, got ${JSON.stringify(value)}`);
      }
      return;
    }
    default:
      checkBlock(value as Uint8Array, blockSize(workload), i);
  }
}

/** The bytes of message `i` for byte paths (pipes, sockets, transfer). */
export function encodeMessage(
  workload: Workload,
  i: number,
  scratch?: Uint8Array<ArrayBuffer>,
): Uint8Array<ArrayBuffer> {
  if (workload === "json") {
    return encoder.encode(JSON.stringify({ id: i, name: "ticket", ok: true }));
  }
  if (scratch) {
    stampBlock(scratch, i);
    return scratch;
  }
  return makeBlock(blockSize(workload), i);
}

/** Checks the bytes of message `i` (decoding JSON). */
export function checkMessage(workload: Workload, bytes: Uint8Array, i: number): void {
  if (workload === "json") checkValue("json", JSON.parse(decoder.decode(bytes)), i);
  else checkBlock(bytes, blockSize(workload), i);
}

/** Messages per throughput iteration and round trips per latency iteration. */
export function counts(
  workload: Workload,
  quick: boolean,
): { messages: number; roundTrips: number } {
  const scale = quick ? 0.3 : 1;
  return workload === "b64k"
    ? { messages: Math.round(1_000 * scale), roundTrips: Math.round(200 * scale) }
    : { messages: Math.round(10_000 * scale), roundTrips: Math.round(400 * scale) };
}
