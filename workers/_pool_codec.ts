/**
 * How pool tasks and results become bytes: JSON when the value is plain JSON
 * data (the common case, ~1 µs per round trip), V8's structured serializer
 * otherwise (`undefined`, `Date`, `Map`, typed arrays, `NaN`...; much slower).
 * The record's tag says which was used, so nothing is guessed on decoding.
 *
 * @module
 */

import { deserialize, serialize } from "node:v8";

/** Tag bit: the payload is V8-serialized (else JSON as UTF-8). */
export const STRUCTURED = 1;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
let scratch = new Uint8Array(4096);

/**
 * Whether JSON carries `value` exactly (finite numbers other than -0,
 * strings, booleans, null, plain arrays/objects of those). JSON writes -0
 * as `0`, so a -0 anywhere sends the value down the structured path.
 */
function isJsonSafe(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(value) && !Object.is(value, -0);
    case "object": {
      if (value === null) return true;
      if (depth > 32) return false;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          if (!(i in value) || !isJsonSafe(value[i], depth + 1)) return false;
        }
        return true;
      }
      if (Object.getPrototypeOf(value) !== Object.prototype) return false;
      for (const key in value) {
        if (!isJsonSafe((value as Record<string, unknown>)[key], depth + 1)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

/** An encoded value: `bytes` may be a scratch view, valid until the next `encode`. */
export interface Encoded {
  /** {@linkcode STRUCTURED} or 0. */
  readonly flags: number;
  /** The bytes. */
  readonly bytes: Uint8Array;
}

/**
 * Encodes a value.
 *
 * @throws {TypeError} (DataCloneError) If V8 cannot serialize it either (functions, symbols, SharedArrayBuffers).
 */
export function encodeValue(value: unknown): Encoded {
  if (isJsonSafe(value, 0)) {
    const text = JSON.stringify(value);
    if (scratch.length < text.length * 3) scratch = new Uint8Array(text.length * 3);
    const { written } = encoder.encodeInto(text, scratch);
    return { flags: 0, bytes: scratch.subarray(0, written) };
  }
  return { flags: STRUCTURED, bytes: new Uint8Array(serialize(value)) };
}

/** Decodes what {@linkcode encodeValue} produced. */
export function decodeValue(flags: number, bytes: Uint8Array): unknown {
  if ((flags & STRUCTURED) !== 0) return deserialize(bytes);
  return JSON.parse(decoder.decode(bytes));
}
