/**
 * `RedisSemaphore`: a counting semaphore whose permits are leased to their
 * holders, so a dead holder's permits come back.
 *
 * Keys of a semaphore named N (hash tag `{N}`):
 *
 * | key            | type | holds                                                           |
 * |----------------|------|-----------------------------------------------------------------|
 * | `sem`          | hash | kind, initial, bounded (0/1), limit (initial + releases beyond it) |
 * | `sem:holders`  | zset | one member per permit held (`handle:n`), scored by lease deadline |
 * | `sem:free`     | list | condition list: non-empty after a release gave a permit back    |
 *
 * The value is `limit − (holders whose lease is live)`. Invariants: an
 * acquisition first drops expired holders (their permits come back), then
 * adds itself only if fewer than `limit` holders remain — both in one Lua
 * script; a holder renews its permits every third of the lease while it
 * lives. A waiter blocks on `sem:free` for at most the time until the
 * earliest lease expires (when a dead holder's permit comes back), so
 * nothing polls.
 *
 * @module
 */

import { Deadline, normalizeTimeout } from "../shm/timeout.ts";
import type { AsyncWaitOptions } from "../shm/timeout.ts";
import {
  ClosedError,
  LayoutError,
  SemaphoreOverflowError,
  TimeoutError,
} from "../primitives/errors.ts";
import {
  checkName,
  Connection,
  LUA_NOW,
  type RedisConnectOptions,
  type Script,
} from "./_connection.ts";
import { makeRedisGuard, type RedisGuard } from "./lock_guard.ts";

const MAX_VALUE = 0x7fffffff;

/**
 * Options of {@linkcode RedisSemaphore.open}.
 *
 * @example
 * ```ts ignore
 * import { RedisSemaphore, type RedisSemaphoreOptions } from "@concur/shm/redis";
 *
 * const options: RedisSemaphoreOptions = { value: 3, bounded: true, lease: 5000 };
 * const slots = await RedisSemaphore.open("redis://127.0.0.1:6379", "downloads", options);
 * await slots.withPermitAsync(() => console.log("one of at most 3"));
 * await slots.disconnect();
 * ```
 */
export interface RedisSemaphoreOptions extends RedisConnectOptions {
  /**
   * Initial permits, an integer >= 0 (default 1). Stored with the semaphore
   * when it is created; reopening with another value is a `LayoutError`
   * (omit it to adopt the stored one).
   */
  value?: number;
  /**
   * If `true`, releasing a permit this handle does not hold throws
   * `SemaphoreOverflowError` (Python's `BoundedSemaphore`). Stored like `value`.
   */
  bounded?: boolean;
  /**
   * Milliseconds a permit lasts without renewal; the holder renews every
   * third of it while it lives. Default 10000.
   */
  lease?: number;
}

// KEYS meta holders free; ARGV initial bounded. Returns {initial, bounded}.
const INIT: Script = {
  name: "concurSemInit",
  keys: 3,
  lua: `local m = redis.call('HMGET', KEYS[1], 'kind', 'initial', 'bounded')
if m[1] then return m end
redis.call('HSET', KEYS[1], 'kind', 'Semaphore', 'initial', ARGV[1], 'bounded', ARGV[2], 'limit', ARGV[1])
redis.call('DEL', KEYS[2], KEYS[3])
return {'Semaphore', ARGV[1], ARGV[2]}`,
};

// KEYS meta holders free; ARGV member leaseMs.
// Returns {1, reclaimed} or {0, ms until the earliest lease expires (-1: none)}, or -3 missing.
const ACQUIRE: Script = {
  name: "concurSemAcquire",
  keys: 3,
  lua: `${LUA_NOW}local limit = tonumber(redis.call('HGET', KEYS[1], 'limit'))
if not limit then return -3 end
local now = now_ms()
local reclaimed = redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local held = redis.call('ZCARD', KEYS[2])
if held < limit then
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
  if held + 1 >= limit then redis.call('DEL', KEYS[3]) end
  return {1, reclaimed}
end
redis.call('DEL', KEYS[3])
local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if first[2] then return {0, tonumber(first[2]) - now} end
return {0, -1}`,
};

// KEYS meta holders free; ARGV n max member...
// Returns how many of the members were still held (their permits are
// returned; the others had expired and came back already); the rest of n
// grows the limit (unbounded) — or -1 if bounded and the rest is > 0, or
// -2 if the limit would pass max; -3 missing. Nothing changes on < 0.
const RELEASE: Script = {
  name: "concurSemRelease",
  keys: 3,
  lua: `local m = redis.call('HMGET', KEYS[1], 'limit', 'bounded')
if not m[1] then return -3 end
local extra = tonumber(ARGV[1]) - (#ARGV - 2)
if extra > 0 then
  if m[2] == '1' then return -1 end
  if tonumber(m[1]) + extra > tonumber(ARGV[2]) then return -2 end
  redis.call('HINCRBY', KEYS[1], 'limit', extra)
end
local removed = 0
if #ARGV > 2 then removed = redis.call('ZREM', KEYS[2], unpack(ARGV, 3)) end
if redis.call('EXISTS', KEYS[3]) == 0 then redis.call('RPUSH', KEYS[3], 1) end
return removed`,
};

// KEYS holders; ARGV leaseMs member... Returns the members whose lease was lost.
const RENEW: Script = {
  name: "concurSemRenew",
  keys: 1,
  lua: `${LUA_NOW}local deadline = now_ms() + tonumber(ARGV[1])
local lost = {}
for i = 2, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[1], 'XX', deadline, ARGV[i])
  else
    lost[#lost + 1] = ARGV[i]
  end
end
return lost`,
};

// KEYS meta holders. Returns limit - live holders, or -3 missing.
const VALUE: Script = {
  name: "concurSemValue",
  keys: 2,
  lua: `${LUA_NOW}local limit = tonumber(redis.call('HGET', KEYS[1], 'limit'))
if not limit then return -3 end
return limit - redis.call('ZCOUNT', KEYS[2], '(' .. now_ms(), '+inf')`,
};

const SCRIPTS = [INIT, ACQUIRE, RELEASE, RENEW, VALUE];

/**
 * A counting semaphore in Redis with the shape of the shared-memory
 * `Semaphore`, **async only**: `acquireAsync()` takes a permit, waiting while
 * there is none; `release(n)` gives permits back.
 *
 * Each permit is leased to the handle that took it and renewed while the
 * handle lives, so a holder that dies without releasing gives its permits
 * back when their lease (`lease` ms) runs out. `release()` returns this
 * handle's most recently taken permits; releasing more than the handle holds
 * grows the value (like Python's `Semaphore`) unless `bounded`, where it
 * throws `SemaphoreOverflowError`.
 *
 * @example At most 3 concurrent downloads across machines
 * ```ts
 * import { RedisSemaphore } from "@concur/shm/redis";
 *
 * const slots = await RedisSemaphore.open("redis://127.0.0.1:6379", "downloads", { value: 3 });
 * const size = await slots.withPermitAsync(() => 1024); // e.g. a download
 * console.log(size, await slots.value()); // 1024 3
 * await slots.disconnect();
 * ```
 */
export class RedisSemaphore implements AsyncDisposable {
  readonly #connection: Connection;
  readonly #name: string;
  readonly #lease: number;
  readonly #initial: number;
  readonly #bounded: boolean;
  readonly #meta: string;
  readonly #holders: string;
  readonly #free: string;
  readonly #id = crypto.randomUUID();
  /** Members this handle holds, oldest first. */
  readonly #held: string[] = [];
  #count = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #reclaimed = 0;

  private constructor(
    connection: Connection,
    name: string,
    lease: number,
    initial: number,
    bounded: boolean,
  ) {
    this.#connection = connection;
    this.#name = name;
    this.#lease = lease;
    this.#initial = initial;
    this.#bounded = bounded;
    this.#meta = connection.key(name, "sem");
    this.#holders = connection.key(name, "sem:holders");
    this.#free = connection.key(name, "sem:free");
  }

  /**
   * Connects to Redis and opens the semaphore `name`, creating it with
   * `value` permits if it does not exist.
   *
   * @example
   * ```ts
   * import { RedisSemaphore } from "@concur/shm/redis";
   *
   * const sem = await RedisSemaphore.open("redis://127.0.0.1:6379", "pool", {
   *   value: 4,
   *   bounded: true,
   * });
   * console.log(sem.initialValue, sem.bounded); // 4 true
   * await sem.disconnect();
   * ```
   *
   * @param url `redis://[user:password@]host:port[/db]` (or `rediss://`).
   * @param name The semaphore's name.
   * @param options `value`, `bounded`, `lease` and the connection options.
   * @returns The connected semaphore.
   * @throws {TypeError} For a malformed URL or name.
   * @throws {RangeError} For a value that is not an integer in 0..2^31-1, or a lease under 30 ms.
   * @throws {RedisConnectionError} If Redis cannot be reached within `connectTimeout`.
   * @throws {LayoutError} If `name` holds a semaphore with another value or bound.
   */
  static async open(
    url: string,
    name: string,
    options?: RedisSemaphoreOptions,
  ): Promise<RedisSemaphore> {
    checkName(name);
    const value = options?.value;
    if (value !== undefined && (!Number.isInteger(value) || value < 0 || value > MAX_VALUE)) {
      throw new RangeError(
        `Semaphore value must be an integer in 0..${MAX_VALUE}: received ${value}`,
      );
    }
    const lease = options?.lease ?? 10000;
    if (typeof lease !== "number" || !(lease >= 30) || !Number.isFinite(lease)) {
      throw new RangeError(`lease must be a finite number >= 30 ms: received ${lease}`);
    }
    const connection = await Connection.open(url, options, SCRIPTS);
    try {
      const probe = new RedisSemaphore(connection, name, lease, 0, false);
      const [kind, initial, bounded] = await connection.run<string[]>(INIT, [
        probe.#meta,
        probe.#holders,
        probe.#free,
        value ?? 1,
        options?.bounded ? 1 : 0,
      ]);
      if (kind !== "Semaphore") {
        throw new LayoutError(
          "wrong-kind",
          `Cannot open Semaphore "${name}": Redis holds a ${kind} under that name`,
        );
      }
      if (
        (value !== undefined && Number(initial) !== value) ||
        (options?.bounded !== undefined && (bounded === "1") !== options.bounded)
      ) {
        throw new LayoutError(
          "bad-parameters",
          `Cannot open Semaphore "${name}" with value ${value ?? "(any)"}, bounded ${
            options?.bounded ?? "(any)"
          }: it was created with value ${initial}, bounded ${bounded === "1"}`,
        );
      }
      return new RedisSemaphore(
        connection,
        name,
        Math.round(lease),
        Number(initial),
        bounded === "1",
      );
    } catch (err) {
      await connection.close();
      throw err;
    }
  }

  /** The semaphore's name in Redis. */
  get name(): string {
    return this.#name;
  }

  /** The value it was created with. */
  get initialValue(): number {
    return this.#initial;
  }

  /** Whether releasing past what this handle holds throws. */
  get bounded(): boolean {
    return this.#bounded;
  }

  /** Lease length in ms. */
  get lease(): number {
    return this.#lease;
  }

  /** How many permits this handle holds. */
  get held(): number {
    return this.#held.length;
  }

  /**
   * How many expired permits of dead holders the last successful
   * acquisition by this handle took back (0 normally).
   */
  get reclaimed(): number {
    return this.#reclaimed;
  }

  #checkOpen(op: string): void {
    if (this.#connection.closed) {
      throw new ClosedError(`Cannot ${op}: this RedisSemaphore handle was disconnected`);
    }
  }

  #missing(op: string): ClosedError {
    return new ClosedError(
      `Cannot ${op}: Semaphore "${this.#name}" no longer exists in Redis (destroyed)`,
    );
  }

  async #attempt(): Promise<true | number> {
    const member = `${this.#id}:${++this.#count}`;
    const reply = await this.#connection.run<number[] | number>(ACQUIRE, [
      this.#meta,
      this.#holders,
      this.#free,
      member,
      this.#lease,
    ]);
    if (typeof reply === "number") throw this.#missing("acquire");
    if (reply[0] === 0) return reply[1] < 0 ? Infinity : reply[1];
    this.#reclaimed = reply[1];
    this.#held.push(member);
    this.#startRenewing();
    return true;
  }

  #startRenewing(): void {
    if (this.#timer !== undefined) return;
    const timer = setInterval(() => void this.#renew(), Math.max(10, Math.floor(this.#lease / 3)));
    // Renewal must not keep a finished program alive.
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  #stopRenewing(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #renew(): Promise<void> {
    if (this.#held.length === 0 || this.#connection.closed) return;
    try {
      const lost = await this.#connection.run<string[]>(RENEW, [
        this.#holders,
        this.#lease,
        ...this.#held,
      ]);
      for (const member of lost) {
        const i = this.#held.indexOf(member);
        if (i >= 0) this.#held.splice(i, 1);
      }
      if (this.#held.length === 0) this.#stopRenewing();
    } catch {
      // Retried next period; if Redis stays away the leases lapse.
    }
  }

  /**
   * Takes a permit if one is free now.
   *
   * @example
   * ```ts
   * import { RedisSemaphore } from "@concur/shm/redis";
   *
   * const sem = await RedisSemaphore.open("redis://127.0.0.1:6379", "single", { value: 1 });
   * console.log(await sem.tryAcquire(), await sem.tryAcquire()); // true false
   * await sem.release();
   * await sem.disconnect();
   * ```
   *
   * @returns Whether a permit was taken.
   */
  async tryAcquire(): Promise<boolean> {
    this.#checkOpen("acquire");
    return (await this.#attempt()) === true;
  }

  /**
   * Takes a permit, waiting while there is none.
   *
   * @example
   * ```ts
   * import { RedisSemaphore } from "@concur/shm/redis";
   *
   * const sem = await RedisSemaphore.open("redis://127.0.0.1:6379", "zero", { value: 0 });
   * console.log(await sem.acquireAsync({ timeout: 20 })); // false
   * await sem.disconnect();
   * ```
   *
   * @param options `timeout` in ms (default: forever; 0 or negative: try once) and an abort `signal`.
   * @returns `true` once a permit is taken, `false` if the timeout expired first.
   * @throws The signal's reason if it aborts first (no permit is kept).
   */
  async acquireAsync(options?: AsyncWaitOptions): Promise<boolean> {
    this.#checkOpen("acquire");
    const signal = options?.signal;
    signal?.throwIfAborted();
    const deadline = new Deadline(options?.timeout);
    for (;;) {
      const result = await this.#attempt();
      if (result === true) {
        if (signal?.aborted) {
          await this.release();
          throw signal.reason;
        }
        return true;
      }
      const left = deadline.remaining();
      if (left === 0) return false;
      await this.#connection.waitNonEmpty(this.#free, Math.min(left, result + 1), signal);
    }
  }

  /**
   * Gives back `n` permits: this handle's most recent ones first; beyond
   * what it holds, the value grows (or, if bounded, nothing changes and it
   * throws).
   *
   * @example
   * ```ts
   * import { RedisSemaphore } from "@concur/shm/redis";
   *
   * const sem = await RedisSemaphore.open("redis://127.0.0.1:6379", "grow", { value: 0 });
   * await sem.release(2);
   * console.log(await sem.value()); // 2
   * await sem.disconnect();
   * ```
   *
   * @param n How many (default 1), an integer >= 1.
   * @throws {RangeError} If `n` is not an integer >= 1.
   * @throws {SemaphoreOverflowError} If bounded and this handle holds fewer
   * than `n` permits, or if the value would pass 2^31 - 1 (nothing changes).
   */
  async release(n: number = 1): Promise<void> {
    if (!Number.isInteger(n) || n < 1) {
      throw new RangeError(`Cannot release semaphore: n must be an integer >= 1: received ${n}`);
    }
    this.#checkOpen("release");
    const members = this.#held.slice(Math.max(0, this.#held.length - n));
    const reply = await this.#connection.run<number>(RELEASE, [
      this.#meta,
      this.#holders,
      this.#free,
      n,
      MAX_VALUE,
      ...members,
    ]);
    if (reply === -3) throw this.#missing("release");
    if (reply === -1) {
      throw new SemaphoreOverflowError(
        `Cannot release bounded semaphore "${this.#name}": this handle holds ${members.length} ` +
          `permit(s), not ${n}`,
      );
    }
    if (reply === -2) {
      throw new SemaphoreOverflowError(
        `Cannot release semaphore "${this.#name}": its value would exceed ${MAX_VALUE}`,
      );
    }
    this.#held.length -= members.length;
    if (this.#held.length === 0) this.#stopRenewing();
  }

  /**
   * Permits available now: the limit minus live leases (a snapshot).
   *
   * @example
   * ```ts
   * import { RedisSemaphore } from "@concur/shm/redis";
   *
   * const sem = await RedisSemaphore.open("redis://127.0.0.1:6379", "count", { value: 2 });
   * await sem.acquireAsync();
   * console.log(await sem.value()); // 1
   * await sem.release();
   * await sem.disconnect();
   * ```
   *
   * @returns The value.
   */
  async value(): Promise<number> {
    this.#checkOpen("read the value");
    const reply = await this.#connection.run<number>(VALUE, [this.#meta, this.#holders]);
    if (reply === -3) throw this.#missing("read the value");
    return reply;
  }

  /**
   * Takes a permit and returns a guard for `await using`.
   *
   * @example
   * ```ts
   * import { RedisSemaphore } from "@concur/shm/redis";
   *
   * const sem = await RedisSemaphore.open("redis://127.0.0.1:6379", "scoped-permit");
   * {
   *   await using _permit = await sem.guardAsync({ timeout: 1000 });
   * }
   * await sem.disconnect();
   * ```
   *
   * @param options `timeout` in ms and an abort `signal`.
   * @returns The guard.
   * @throws {TimeoutError} If the timeout expired before a permit was taken.
   */
  async guardAsync(options?: AsyncWaitOptions): Promise<RedisGuard> {
    if (!(await this.acquireAsync(options))) {
      throw new TimeoutError(
        `Cannot acquire semaphore "${this.#name}": timed out after ${
          normalizeTimeout(options?.timeout)
        } ms`,
      );
    }
    const member = this.#held[this.#held.length - 1];
    return makeRedisGuard(async () => {
      // Release this guard's own permit, wherever it sits in the held list.
      const i = this.#held.indexOf(member);
      if (i < 0) return; // its lease was lost: the permit already came back
      this.#held.splice(i, 1);
      this.#held.push(member);
      await this.release();
    }, {});
  }

  /**
   * Runs `fn` holding a permit, and gives it back however `fn` ends.
   *
   * @example
   * ```ts
   * import { RedisSemaphore } from "@concur/shm/redis";
   *
   * const sem = await RedisSemaphore.open("redis://127.0.0.1:6379", "with-permit");
   * console.log(await sem.withPermitAsync(async () => "done")); // "done"
   * await sem.disconnect();
   * ```
   *
   * @param fn The work (sync or async).
   * @param options `timeout` in ms and an abort `signal` for taking the permit.
   * @returns What `fn` returned.
   * @throws {TimeoutError} If no permit could be taken in time (`fn` does not run).
   */
  async withPermitAsync<T>(fn: () => T | Promise<T>, options?: AsyncWaitOptions): Promise<T> {
    await using _permit = await this.guardAsync(options);
    return await fn();
  }

  /**
   * Deletes the semaphore's keys: use only when no one uses it.
   *
   * @example
   * ```ts
   * import { RedisSemaphore } from "@concur/shm/redis";
   *
   * const sem = await RedisSemaphore.open("redis://127.0.0.1:6379", "gone");
   * await sem.destroy();
   * await sem.disconnect();
   * ```
   */
  async destroy(): Promise<void> {
    this.#checkOpen("destroy");
    this.#held.length = 0;
    this.#stopRenewing();
    await this.#connection.call("del", [this.#meta, this.#holders, this.#free]);
  }

  /**
   * Stops renewing and closes the connections. Permits still held come back
   * when their lease runs out: release first.
   *
   * @example
   * ```ts
   * import { RedisSemaphore } from "@concur/shm/redis";
   *
   * await using sem = await RedisSemaphore.open("redis://127.0.0.1:6379", "scoped");
   * ```
   */
  async disconnect(): Promise<void> {
    this.#stopRenewing();
    await this.#connection.close();
  }

  /** Same as {@linkcode RedisSemaphore.disconnect}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.disconnect();
  }
}
