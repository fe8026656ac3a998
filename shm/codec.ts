/**
 * Message codecs: how a value becomes the bytes a queue or pipe carries, and
 * back.
 *
 * Queues and pipes move bytes. A codec sits on top and is chosen per queue
 * (stored in the queue's header, so a queue revived in a worker decodes with
 * the codec it was created with):
 *
 * | name           | values                                  | cost                          |
 * |----------------|-----------------------------------------|-------------------------------|
 * | `"bytes"`      | `Uint8Array` (any view)                  | one copy each way             |
 * | `"string"`     | strings, as UTF-8                        | `TextEncoder.encodeInto`      |
 * | `"json"`       | JSON values                              | `JSON.stringify` + UTF-8      |
 * | `"structured"` | what `structuredClone` accepts: `Map`, `Set`, `Date`, `BigInt`, typed arrays, `undefined`, cycles... | V8's serializer (`node:v8`) |
 * | `"number"`     | numbers, as 8 bytes (float64)            | no text at all                |
 *
 * Encoding errors (a value the codec cannot carry) are thrown to the caller of
 * `put`/`send`, and nothing is enqueued. Decoding errors (bytes that are not a
 * valid message of that codec) throw {@linkcode MessageCorruptError}: a
 * malformed message is never turned into a wrong value.
 *
 * The structured codec uses `node:v8` `serialize`/`deserialize`, which Deno
 * implements: it carries everything `postMessage` can clone except
 * transferables and `SharedArrayBuffer`s (those are refused with a
 * `TypeError` at `put`, like functions and symbols).
 *
 * @module
 */

import { deserialize, serialize } from "node:v8";
import { MessageCorruptError } from "../primitives/errors.ts";

/**
 * Turns values into bytes and back.
 *
 * `encode` may return a scratch buffer that is only valid until the next
 * `encode` on the same codec object (the queue copies it into shared memory
 * at once). `decode` may be handed a live view of shared memory that is only
 * valid during the call, so it must copy what it keeps.
 *
 * @typeParam T The values carried.
 *
 * @example A custom codec for points
 * ```ts
 * import { type Codec, Queue } from "@concur/shm";
 *
 * const points: Codec<{ x: number; y: number }> = {
 *   name: "point",
 *   encode: ({ x, y }) => new Uint8Array(new Float64Array([x, y]).buffer),
 *   decode: (bytes) => {
 *     const [x, y] = new Float64Array(bytes.slice().buffer);
 *     return { x, y };
 *   },
 * };
 * const queue = new Queue(4, { codec: points });
 * queue.put({ x: 1, y: 2 });
 * console.log(queue.get()); // { x: 1, y: 2 }
 * ```
 */
export interface Codec<T> {
  /** A short name, for messages and diagnostics. */
  readonly name: string;
  /** The bytes of `value` (possibly a scratch buffer, see above). */
  encode(value: T): Uint8Array;
  /** The value `bytes` encode; throws {@linkcode MessageCorruptError} if they encode none. */
  decode(bytes: Uint8Array): T;
}

/**
 * The names of the built-in codecs.
 *
 * @example
 * ```ts
 * import { type CodecName, createCodec } from "@concur/shm";
 *
 * const name: CodecName = "string";
 * const codec = createCodec(name);
 * console.log(codec.decode(codec.encode("héllo"))); // "héllo"
 * ```
 */
export type CodecName = "bytes" | "string" | "json" | "structured" | "number";

/**
 * The codec id stored in a queue's header: 0 for a custom codec, which must
 * then be passed again to `from()`.
 */
export const CODEC_IDS: Readonly<Record<CodecName, number>> = {
  bytes: 1,
  string: 2,
  json: 3,
  structured: 4,
  number: 5,
};

/** A growable scratch buffer, so that encoding allocates nothing in the steady state. */
class Scratch {
  #bytes: Uint8Array = new Uint8Array(256);
  get(minLength: number): Uint8Array {
    if (this.#bytes.length < minLength) {
      this.#bytes = new Uint8Array(Math.max(minLength, this.#bytes.length * 2));
    }
    return this.#bytes;
  }
}

class BytesCodec implements Codec<Uint8Array> {
  readonly name = "bytes";
  encode(value: Uint8Array): Uint8Array {
    if (!(value instanceof Uint8Array)) {
      throw new TypeError(
        `Cannot encode message: the "bytes" codec carries Uint8Array values, received ${
          describe(value)
        }`,
      );
    }
    return value;
  }
  decode(bytes: Uint8Array): Uint8Array {
    return bytes.slice();
  }
}

/** Strict decoder: only used to confirm that a suspicious message is malformed (it is slow). */
const strictDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
/** Lenient decoder: fast; malformed input shows up as U+FFFD, which is then checked strictly. */
const lenientDecoder = new TextDecoder("utf-8", { ignoreBOM: true });
const encoder = new TextEncoder();

/** UTF-8 encodes `text` into a scratch buffer; returns the used part. */
function encodeUtf8(text: string, scratch: Scratch): Uint8Array {
  // UTF-8 takes at most 3 bytes per UTF-16 code unit.
  let target = scratch.get(text.length);
  let result = encoder.encodeInto(text, target);
  if (result.read! < text.length) {
    target = scratch.get(text.length * 3);
    result = encoder.encodeInto(text, target);
  }
  return target.subarray(0, result.written);
}

/**
 * Decodes UTF-8 strictly (malformed input throws MessageCorruptError). Bytes
 * in shared memory are first copied to a scratch buffer: decoding a view of
 * a SharedArrayBuffer directly is several times slower.
 */
function decodeUtf8(bytes: Uint8Array, codec: string, scratch: Scratch): string {
  let local = bytes;
  if (bytes.buffer instanceof SharedArrayBuffer) {
    const copy = scratch.get(bytes.length);
    copy.set(bytes);
    local = copy.subarray(0, bytes.length);
  }
  const text = lenientDecoder.decode(local);
  if (text.includes("\uFFFD")) {
    try {
      strictDecoder.decode(local); // U+FFFD may be genuine; the strict decoder tells
    } catch (cause) {
      throw new MessageCorruptError(
        `Cannot decode message: ${bytes.length} bytes are not valid UTF-8 (codec "${codec}")`,
        { cause },
      );
    }
  }
  return text;
}

class StringCodec implements Codec<string> {
  readonly name = "string";
  readonly #scratch = new Scratch();
  readonly #decodeScratch = new Scratch();
  encode(value: string): Uint8Array {
    if (typeof value !== "string") {
      throw new TypeError(
        `Cannot encode message: the "string" codec carries strings, received ${describe(value)}`,
      );
    }
    // UTF-8 cannot carry a lone surrogate: encoding would turn it into U+FFFD,
    // a different string (the "json" codec escapes it instead).
    if (!value.isWellFormed()) {
      throw new TypeError(
        `Cannot encode message: the string holds a lone surrogate, which UTF-8 cannot carry (use the "json" codec)`,
      );
    }
    return encodeUtf8(value, this.#scratch);
  }
  decode(bytes: Uint8Array): string {
    return decodeUtf8(bytes, this.name, this.#decodeScratch);
  }
}

class JsonCodec implements Codec<unknown> {
  readonly name = "json";
  readonly #scratch = new Scratch();
  readonly #decodeScratch = new Scratch();
  encode(value: unknown): Uint8Array {
    const text = JSON.stringify(value);
    if (text === undefined) {
      throw new TypeError(
        `Cannot encode message: ${describe(value)} has no JSON form (codec "json")`,
      );
    }
    return encodeUtf8(text, this.#scratch);
  }
  decode(bytes: Uint8Array): unknown {
    const text = decodeUtf8(bytes, this.name, this.#decodeScratch);
    try {
      return JSON.parse(text);
    } catch (cause) {
      throw new MessageCorruptError(
        `Cannot decode message: ${bytes.length} bytes are not valid JSON (codec "json")`,
        { cause },
      );
    }
  }
}

class StructuredCodec implements Codec<unknown> {
  readonly name = "structured";
  encode(value: unknown): Uint8Array {
    try {
      return serialize(value);
    } catch (cause) {
      throw new TypeError(
        `Cannot encode message: ${describe(value)} cannot be cloned (codec "structured")`,
        { cause },
      );
    }
  }
  decode(bytes: Uint8Array): unknown {
    try {
      return deserialize(bytes);
    } catch (cause) {
      throw new MessageCorruptError(
        `Cannot decode message: ${bytes.length} bytes are not a serialized value (codec "structured")`,
        { cause },
      );
    }
  }
}

class NumberCodec implements Codec<number> {
  readonly name = "number";
  readonly #float = new Float64Array(1);
  readonly #bytes = new Uint8Array(this.#float.buffer);
  encode(value: number): Uint8Array {
    if (typeof value !== "number") {
      throw new TypeError(
        `Cannot encode message: the "number" codec carries numbers, received ${describe(value)}`,
      );
    }
    this.#float[0] = value;
    return this.#bytes;
  }
  decode(bytes: Uint8Array): number {
    if (bytes.length !== 8) {
      throw new MessageCorruptError(
        `Cannot decode message: a number is 8 bytes, found ${bytes.length} (codec "number")`,
      );
    }
    this.#bytes.set(bytes);
    return this.#float[0];
  }
}

/**
 * A fresh instance of a built-in codec (each holds its own scratch buffer).
 *
 * @param name Which codec.
 * @returns The codec.
 * @throws {TypeError} For an unknown name.
 *
 * @example
 * ```ts
 * import { createCodec } from "@concur/shm";
 *
 * const json = createCodec("json");
 * console.log(json.decode(json.encode({ a: [1, 2] }))); // { a: [ 1, 2 ] }
 * ```
 */
export function createCodec(name: "bytes"): Codec<Uint8Array>;
/** The UTF-8 string codec. @param name `"string"`. @returns A fresh codec. */
export function createCodec(name: "string"): Codec<string>;
/** The float64 number codec. @param name `"number"`. @returns A fresh codec. */
export function createCodec(name: "number"): Codec<number>;
/** Any built-in codec. @param name Which codec. @returns A fresh codec. */
export function createCodec(name: CodecName): Codec<unknown>;
export function createCodec(name: CodecName): Codec<unknown> {
  switch (name) {
    case "bytes":
      return new BytesCodec() as Codec<unknown>;
    case "string":
      return new StringCodec() as Codec<unknown>;
    case "json":
      return new JsonCodec();
    case "structured":
      return new StructuredCodec();
    case "number":
      return new NumberCodec() as Codec<unknown>;
    default:
      throw new TypeError(
        `Cannot create codec: unknown codec ${describe(name)} (expected one of ${
          Object.keys(CODEC_IDS).join(", ")
        })`,
      );
  }
}

/** The built-in codec with header id `id`, or `undefined` (0: custom, or unknown). */
export function codecById(id: number): CodecName | undefined {
  for (const [name, code] of Object.entries(CODEC_IDS)) {
    if (code === id) return name as CodecName;
  }
  return undefined;
}

/**
 * Resolves a codec option to a codec object and the id to store in a header.
 *
 * @param option A built-in name or a custom codec object.
 * @param fallback The name used when `option` is undefined.
 */
export function resolveCodec<T>(
  option: CodecName | Codec<T> | undefined,
  fallback: CodecName,
): { codec: Codec<T>; id: number } {
  const chosen = option ?? fallback;
  if (typeof chosen === "string") {
    return { codec: createCodec(chosen) as Codec<T>, id: CODEC_IDS[chosen] ?? 0 };
  }
  if (
    chosen === null || typeof chosen !== "object" || typeof chosen.encode !== "function" ||
    typeof chosen.decode !== "function"
  ) {
    throw new TypeError(
      `Cannot use codec: expected a codec name or an object with encode and decode, received ${
        describe(chosen)
      }`,
    );
  }
  return { codec: chosen, id: 0 };
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object") return (value as object).constructor?.name ?? "object";
  if (typeof value === "string") return `"${value.length > 40 ? value.slice(0, 40) + "…" : value}"`;
  return typeof value === "bigint" ? `${value}n` : String(value);
}
