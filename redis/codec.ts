/**
 * How values travel through a Redis queue: as Redis strings.
 *
 * `"json"` (the default) carries JSON values; `"string"` carries strings
 * unchanged. A custom {@linkcode RedisCodec} turns any value into a string
 * and back. An encoding error is thrown to the caller of `putAsync` and
 * nothing is enqueued.
 *
 * @module
 */

/**
 * Turns values into Redis strings and back.
 *
 * @typeParam T The values carried.
 *
 * @example A codec for dates
 * ```ts
 * import { type RedisCodec, RedisQueue } from "@concur/shm/redis";
 *
 * const dates: RedisCodec<Date> = {
 *   encode: (date) => date.toISOString(),
 *   decode: (text) => new Date(text),
 * };
 * const queue = await RedisQueue.open<Date>("redis://127.0.0.1:6379", "dates", { codec: dates });
 * await queue.putAsync(new Date(0));
 * console.log((await queue.getAsync()).getTime()); // 0
 * await queue.disconnect();
 * ```
 */
export interface RedisCodec<T> {
  /** Turns a value into the string stored in Redis; throws for a value it cannot carry. */
  encode(value: T): string;
  /** Turns a stored string back into the value. */
  decode(text: string): T;
}

/**
 * The built-in codecs.
 *
 * @example
 * ```ts ignore
 * import { type RedisCodecName, RedisQueue } from "@concur/shm/redis";
 *
 * const codec: RedisCodecName = "string"; // items stored as they are, readable with redis-cli
 * const queue = await RedisQueue.open<string>("redis://127.0.0.1:6379", "log", { codec });
 * await queue.disconnect();
 * ```
 */
export type RedisCodecName = "json" | "string";

const JSON_CODEC: RedisCodec<unknown> = {
  encode(value: unknown): string {
    const text = JSON.stringify(value);
    if (text === undefined) {
      throw new TypeError(`Cannot put: ${typeof value} is not a JSON value`);
    }
    return text;
  },
  decode: (text: string): unknown => JSON.parse(text),
};

const STRING_CODEC: RedisCodec<string> = {
  encode(value: string): string {
    if (typeof value !== "string") {
      throw new TypeError(`Cannot put: the "string" codec carries strings, not ${typeof value}`);
    }
    return value;
  },
  decode: (text: string): string => text,
};

/**
 * Picks a codec from a name or a custom codec (default `"json"`).
 *
 * @example
 * ```ts
 * import { resolveRedisCodec } from "@concur/shm/redis";
 *
 * const codec = resolveRedisCodec<number[]>("json");
 * console.log(codec.decode(codec.encode([1, 2]))); // [1, 2]
 * ```
 *
 * @param codec A built-in name or a codec object.
 * @returns The codec.
 * @throws {TypeError} For an unknown name or an object without encode/decode.
 */
export function resolveRedisCodec<T>(codec?: RedisCodecName | RedisCodec<T>): RedisCodec<T> {
  if (codec === undefined || codec === "json") return JSON_CODEC as RedisCodec<T>;
  if (codec === "string") return STRING_CODEC as unknown as RedisCodec<T>;
  if (
    typeof codec === "object" && codec !== null && typeof codec.encode === "function" &&
    typeof codec.decode === "function"
  ) {
    return codec;
  }
  throw new TypeError(
    `Unknown codec ${JSON.stringify(codec)}: expected "json", "string" or { encode, decode }`,
  );
}
