/**
 * The one place the Redis client is imported from. Once deno.json maps
 * `"ioredis"` in its `imports`, this becomes `from "ioredis"`.
 *
 * @module
 */

export { Command, Redis } from "ioredis";
