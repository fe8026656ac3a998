/**
 * The one error the Redis tier adds to the module's hierarchy.
 *
 * Everything else (queue full/empty/closed, timeouts, ownership, layout) is
 * reported with the same classes as the shared-memory primitives, from
 * `primitives/errors.ts`.
 *
 * @module
 */

import { ConcurrencyError } from "../primitives/errors.ts";

/**
 * Redis could not be reached or the connection was lost for longer than the
 * reconnect window: connection refused, unknown host, wrong password, a
 * server that went away mid-call. The `cause` holds the client's own error.
 *
 * An operation that fails with this error may or may not have been applied
 * (the reply was lost); one that resolved was applied.
 *
 * @example
 * ```ts
 * import { RedisConnectionError, RedisQueue } from "@concur/shm/redis";
 *
 * try {
 *   await RedisQueue.open("redis://127.0.0.1:1", "jobs", { connectTimeout: 200 });
 * } catch (err) {
 *   console.log(err instanceof RedisConnectionError); // true
 * }
 * ```
 */
export class RedisConnectionError extends ConcurrencyError {}
