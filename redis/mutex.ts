/**
 * `RedisMutex`: a lock with a lease, an owner token and a fencing token,
 * shared by processes on any number of machines.
 *
 * Keys of a mutex named N (hash tag `{N}`):
 *
 * | key          | type | holds                                                      |
 * |--------------|------|------------------------------------------------------------|
 * | `mutex`      | hash | token (owner of the current hold), deadline (server ms), fence (counter), died (0/1, sticky) |
 * | `mutex:free` | list | condition list: non-empty after a release, emptied by an acquisition |
 *
 * Invariants: the lock is held iff `token` is set and `deadline` is in the
 * future; only a caller presenting `token` may release or renew it
 * (compare-and-delete in Lua); `fence` only grows, by one per acquisition.
 * A `token` whose `deadline` passed belongs to a holder that died (or
 * stalled longer than its lease): the next acquisition takes over and sets
 * `died`, which every later holder sees (`ownerDied`) until one of them
 * calls `markConsistent()` — the robust-mutex protocol of the shared-memory
 * `Mutex` (POSIX `EOWNERDEAD`).
 *
 * Waiting never polls: a waiter blocks on `mutex:free` (woken by a release)
 * for at most the time left on the current lease (the moment a dead
 * holder's lock becomes free).
 *
 * @module
 */

import { Deadline, normalizeTimeout } from "../shm/timeout.ts";
import type { AsyncWaitOptions } from "../shm/timeout.ts";
import {
  ClosedError,
  LockNotHeldError,
  NotOwnerError,
  TimeoutError,
} from "../primitives/errors.ts";
import {
  checkName,
  Connection,
  LUA_NOW,
  type RedisConnectOptions,
  type Script,
} from "./_connection.ts";
import { makeRedisGuard, type RedisLockGuard } from "./lock_guard.ts";

/**
 * Options of {@linkcode RedisMutex.open}.
 *
 * @example
 * ```ts ignore
 * import { RedisMutex, type RedisMutexOptions } from "@concur/shm/redis";
 *
 * const options: RedisMutexOptions = { lease: 3000 }; // freed 3 s after its holder dies
 * const mutex = await RedisMutex.open("redis://127.0.0.1:6379", "ledger", options);
 * await mutex.withLockAsync(() => console.log("held"));
 * await mutex.disconnect();
 * ```
 */
export interface RedisMutexOptions extends RedisConnectOptions {
  /**
   * Milliseconds a hold lasts without renewal. The holder renews it every
   * third of the lease while it lives; if it dies, the lock is free this long
   * after its last renewal. Default 10000.
   */
  lease?: number;
}

// KEYS state free; ARGV token leaseMs. Returns {1, fence, ownerDied} or {0, ms left on the lease}.
const LOCK: Script = {
  name: "concurMutexLock",
  keys: 2,
  lua: `${LUA_NOW}local now = now_ms()
local s = redis.call('HMGET', KEYS[1], 'token', 'deadline')
if s[1] then
  local left = tonumber(s[2]) - now
  if left > 0 then return {0, left} end
  redis.call('HSET', KEYS[1], 'died', 1)
end
local fence = redis.call('HINCRBY', KEYS[1], 'fence', 1)
redis.call('HSET', KEYS[1], 'token', ARGV[1], 'deadline', now + tonumber(ARGV[2]))
redis.call('DEL', KEYS[2])
local died = 0
if redis.call('HGET', KEYS[1], 'died') == '1' then died = 1 end
return {1, fence, died}`,
};

// KEYS state free; ARGV token. Returns 1 released, 0 not locked, -1 held by another token.
const UNLOCK: Script = {
  name: "concurMutexUnlock",
  keys: 2,
  lua: `local t = redis.call('HGET', KEYS[1], 'token')
if not t then return 0 end
if t ~= ARGV[1] then return -1 end
redis.call('HDEL', KEYS[1], 'token', 'deadline')
if redis.call('EXISTS', KEYS[2]) == 0 then redis.call('RPUSH', KEYS[2], 1) end
return 1`,
};

// KEYS state; ARGV token leaseMs. Returns 1 renewed, 0 lost.
const RENEW: Script = {
  name: "concurMutexRenew",
  keys: 1,
  lua: `${LUA_NOW}if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'deadline', now_ms() + tonumber(ARGV[2]))
return 1`,
};

// KEYS state; ARGV token. Clears the sticky died flag if token holds the lock: 1, else 0.
const MARK: Script = {
  name: "concurMutexMarkConsistent",
  keys: 1,
  lua: `${LUA_NOW}local s = redis.call('HMGET', KEYS[1], 'token', 'deadline')
if s[1] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'died', 0)
return 1`,
};

// KEYS state; ARGV token. Returns 0 free (or expired), 1 held by another, 2 held by token.
const PROBE: Script = {
  name: "concurMutexProbe",
  keys: 1,
  lua: `${LUA_NOW}local s = redis.call('HMGET', KEYS[1], 'token', 'deadline')
if not s[1] or tonumber(s[2]) <= now_ms() then return 0 end
if s[1] == ARGV[1] then return 2 end
return 1`,
};

const SCRIPTS = [LOCK, UNLOCK, RENEW, PROBE, MARK];

/** The current hold of this handle. */
interface Hold {
  token: string;
  fence: number;
  died: boolean;
  lost: AbortController;
  timer: ReturnType<typeof setInterval>;
}

/**
 * A mutual-exclusion lock in Redis with the shape of the shared-memory
 * `Mutex`, **async only**, made for processes that may die:
 *
 * - every hold has an owner token and a **lease** (`lease` ms), renewed
 *   automatically while this handle holds the lock;
 * - only the owner can release it (compare-and-delete): an `unlock()` by a
 *   handle that does not hold it throws;
 * - each acquisition gets a **fencing token** (a counter that only grows),
 *   to pass to the storage you protect;
 * - if a holder dies, the lock is free once its lease runs out, and the
 *   next owner is told: `ownerDied` is `true`, and stays `true` for every
 *   later holder until one repairs the protected state and calls
 *   `markConsistent()` (as with the shared-memory `Mutex`).
 *
 * Not re-entrant: a handle that holds the lock and asks again waits (like
 * the shared-memory `Mutex`). The owner is the handle, not the process: two
 * handles in one process exclude each other.
 *
 * @example Fenced critical section
 * ```ts
 * import { RedisMutex } from "@concur/shm/redis";
 *
 * const mutex = await RedisMutex.open("redis://127.0.0.1:6379", "ledger", { lease: 5000 });
 * await mutex.withLockAsync(() => {
 *   console.log(mutex.fencingToken! > 0, mutex.ownerDied); // true false
 * });
 * await mutex.disconnect();
 * ```
 */
export class RedisMutex implements AsyncDisposable {
  readonly #connection: Connection;
  readonly #name: string;
  readonly #lease: number;
  readonly #state: string;
  readonly #free: string;
  readonly #id = crypto.randomUUID();
  #attempts = 0;
  #hold: Hold | undefined;
  #lastFence: number | undefined;
  #lastDied = false;

  private constructor(connection: Connection, name: string, lease: number) {
    this.#connection = connection;
    this.#name = name;
    this.#lease = lease;
    this.#state = connection.key(name, "mutex");
    this.#free = connection.key(name, "mutex:free");
  }

  /**
   * Connects to Redis and opens the mutex `name` (nothing is created until
   * the first acquisition).
   *
   * @example
   * ```ts
   * import { RedisMutex } from "@concur/shm/redis";
   *
   * const mutex = await RedisMutex.open("redis://127.0.0.1:6379", "jobs-lock", { lease: 2000 });
   * console.log(mutex.lease); // 2000
   * await mutex.disconnect();
   * ```
   *
   * @param url `redis://[user:password@]host:port[/db]` (or `rediss://`).
   * @param name The lock's name; every handle opened with it shares the lock.
   * @param options `lease` and the connection options.
   * @returns The connected mutex.
   * @throws {TypeError} For a malformed URL or name.
   * @throws {RangeError} For a lease under 30 ms.
   * @throws {RedisConnectionError} If Redis cannot be reached within `connectTimeout`.
   */
  static async open(url: string, name: string, options?: RedisMutexOptions): Promise<RedisMutex> {
    checkName(name);
    const lease = options?.lease ?? 10000;
    if (typeof lease !== "number" || !(lease >= 30) || !Number.isFinite(lease)) {
      throw new RangeError(`lease must be a finite number >= 30 ms: received ${lease}`);
    }
    const connection = await Connection.open(url, options, SCRIPTS);
    return new RedisMutex(connection, name, Math.round(lease));
  }

  /** The lock's name in Redis. */
  get name(): string {
    return this.#name;
  }

  /** Lease length in ms. */
  get lease(): number {
    return this.#lease;
  }

  /** Fencing token of the current (or last) hold by this handle; `undefined` before any. */
  get fencingToken(): number | undefined {
    return this.#lastFence;
  }

  /**
   * Whether a holder of this lock died (its lease expired while it held the
   * lock) and no holder has called {@linkcode RedisMutex.markConsistent}
   * since — as seen by this handle's current (or last) acquisition. Check it
   * right after taking the lock.
   *
   * @example Repair after a dead holder
   * ```ts
   * import { RedisMutex } from "@concur/shm/redis";
   *
   * const mutex = await RedisMutex.open("redis://127.0.0.1:6379", "repairable");
   * await mutex.lockAsync();
   * if (mutex.ownerDied) {
   *   // ...bring the protected state back to a consistent value...
   *   await mutex.markConsistent();
   * }
   * await mutex.unlock();
   * await mutex.disconnect();
   * ```
   */
  get ownerDied(): boolean {
    return this.#lastDied;
  }

  /**
   * Declares the protected state repaired after a dead holder: clears the
   * owner-died flag for later holders. Call it while holding the lock.
   *
   * @example
   * ```ts
   * import { RedisMutex } from "@concur/shm/redis";
   *
   * const mutex = await RedisMutex.open("redis://127.0.0.1:6379", "consistent");
   * await mutex.withLockAsync(() => mutex.markConsistent());
   * console.log(mutex.ownerDied); // false
   * await mutex.disconnect();
   * ```
   *
   * @throws {NotOwnerError} If this handle does not hold the lock.
   */
  async markConsistent(): Promise<void> {
    this.#checkOpen("mark consistent");
    const hold = this.#hold;
    const ok = hold ? await this.#connection.run<number>(MARK, [this.#state, hold.token]) : 0;
    if (ok !== 1) {
      throw new NotOwnerError(
        `Cannot mark mutex "${this.#name}" consistent: this handle does not hold it`,
      );
    }
    this.#lastDied = false;
  }

  #checkOpen(op: string): void {
    if (this.#connection.closed) {
      throw new ClosedError(`Cannot ${op}: this RedisMutex handle was disconnected`);
    }
  }

  /** One attempt: returns true if acquired, else the ms left on the current lease. */
  async #attempt(): Promise<true | number> {
    const token = `${this.#id}:${++this.#attempts}`;
    const reply = await this.#connection.run<number[]>(LOCK, [
      this.#state,
      this.#free,
      token,
      this.#lease,
    ]);
    if (reply[0] === 0) return reply[1];
    this.#startHold(token, reply[1], reply[2] === 1);
    return true;
  }

  #startHold(token: string, fence: number, died: boolean): void {
    const lost = new AbortController();
    const timer = setInterval(() => void this.#renew(), Math.max(10, Math.floor(this.#lease / 3)));
    // Renewal must not keep a finished program alive.
    Deno.unrefTimer(timer);
    this.#hold = { token, fence, died, lost, timer };
    this.#lastFence = fence;
    this.#lastDied = died;
  }

  #endHold(): Hold | undefined {
    const hold = this.#hold;
    if (hold) clearInterval(hold.timer);
    this.#hold = undefined;
    return hold;
  }

  async #renew(): Promise<void> {
    const hold = this.#hold;
    if (!hold || this.#connection.closed) return;
    try {
      const ok = await this.#connection.run<number>(RENEW, [this.#state, hold.token, this.#lease]);
      if (ok === 0 && this.#hold === hold) {
        clearInterval(hold.timer);
        hold.lost.abort(
          new NotOwnerError(`Lease of mutex "${this.#name}" lost: another owner took the lock`),
        );
      }
    } catch {
      // Retried next period; if Redis stays away the lease lapses.
    }
  }

  /**
   * Takes the lock if it is free (or its holder's lease expired), without waiting.
   *
   * @example
   * ```ts
   * import { RedisMutex } from "@concur/shm/redis";
   *
   * const a = await RedisMutex.open("redis://127.0.0.1:6379", "try");
   * const b = await RedisMutex.open("redis://127.0.0.1:6379", "try");
   * console.log(await a.tryLock(), await b.tryLock()); // true false
   * await a.unlock();
   * await Promise.all([a.disconnect(), b.disconnect()]);
   * ```
   *
   * @returns Whether this handle now holds the lock.
   */
  async tryLock(): Promise<boolean> {
    this.#checkOpen("lock");
    return (await this.#attempt()) === true;
  }

  /**
   * Takes the lock, waiting while another owner holds it.
   *
   * @example
   * ```ts
   * import { RedisMutex } from "@concur/shm/redis";
   *
   * const mutex = await RedisMutex.open("redis://127.0.0.1:6379", "wait");
   * if (await mutex.lockAsync({ timeout: 1000 })) {
   *   try {
   *     // critical section
   *   } finally {
   *     await mutex.unlock();
   *   }
   * }
   * await mutex.disconnect();
   * ```
   *
   * @param options `timeout` in ms (default: forever; 0 or negative: try once) and an abort `signal`.
   * @returns `true` once held, `false` if the timeout expired first.
   * @throws The signal's reason if it aborts first.
   */
  async lockAsync(options?: AsyncWaitOptions): Promise<boolean> {
    this.#checkOpen("lock");
    const signal = options?.signal;
    signal?.throwIfAborted();
    const deadline = new Deadline(options?.timeout);
    for (;;) {
      const result = await this.#attempt();
      if (result === true) {
        if (signal?.aborted) {
          await this.unlock();
          throw signal.reason;
        }
        return true;
      }
      const left = deadline.remaining();
      if (left === 0) return false;
      // Woken by a release, or when the current lease runs out (+1 ms so the
      // retry sees it expired).
      await this.#connection.waitNonEmpty(this.#free, Math.min(left, result + 1), signal);
    }
  }

  /**
   * Releases the lock held by this handle and wakes the waiters.
   *
   * @example
   * ```ts
   * import { RedisMutex } from "@concur/shm/redis";
   *
   * const mutex = await RedisMutex.open("redis://127.0.0.1:6379", "release");
   * await mutex.lockAsync();
   * await mutex.unlock();
   * await mutex.unlock().catch((err) => console.log(err.name)); // "LockNotHeldError"
   * await mutex.disconnect();
   * ```
   *
   * @throws {LockNotHeldError} If this handle does not hold the lock (or it is not locked).
   * @throws {NotOwnerError} If this handle's lease expired and another owner holds the lock now.
   */
  async unlock(): Promise<void> {
    this.#checkOpen("unlock");
    const hold = this.#endHold();
    if (!hold) {
      throw new LockNotHeldError(
        `Cannot unlock mutex "${this.#name}": this handle does not hold it`,
      );
    }
    const reply = await this.#connection.run<number>(UNLOCK, [this.#state, this.#free, hold.token]);
    if (reply === 1) return;
    const error = reply === 0
      ? new LockNotHeldError(
        `Cannot unlock mutex "${this.#name}": its lease (${this.#lease} ms) expired and it is not locked`,
      )
      : new NotOwnerError(
        `Cannot unlock mutex "${this.#name}": its lease (${this.#lease} ms) expired and another owner holds it`,
      );
    hold.lost.abort(error);
    throw error;
  }

  /**
   * Whether some owner holds the lock with a live lease (a snapshot).
   *
   * @example
   * ```ts
   * import { RedisMutex } from "@concur/shm/redis";
   *
   * const mutex = await RedisMutex.open("redis://127.0.0.1:6379", "probe");
   * console.log(await mutex.locked()); // false
   * await mutex.disconnect();
   * ```
   *
   * @returns The state.
   */
  async locked(): Promise<boolean> {
    this.#checkOpen("probe");
    return (await this.#connection.run<number>(PROBE, [this.#state, ""])) !== 0;
  }

  /**
   * Whether this handle holds the lock with a live lease (asks Redis).
   *
   * @example
   * ```ts
   * import { RedisMutex } from "@concur/shm/redis";
   *
   * const mutex = await RedisMutex.open("redis://127.0.0.1:6379", "mine");
   * await mutex.lockAsync();
   * console.log(await mutex.heldByThisHandle()); // true
   * await mutex.unlock();
   * await mutex.disconnect();
   * ```
   *
   * @returns The state.
   */
  async heldByThisHandle(): Promise<boolean> {
    this.#checkOpen("probe");
    const hold = this.#hold;
    if (!hold) return false;
    return (await this.#connection.run<number>(PROBE, [this.#state, hold.token])) === 2;
  }

  /**
   * Takes the lock and returns a guard for `await using`, carrying the
   * fencing token, the owner-died flag and a signal aborted if the lease is lost.
   *
   * @example
   * ```ts
   * import { RedisMutex } from "@concur/shm/redis";
   *
   * const mutex = await RedisMutex.open("redis://127.0.0.1:6379", "guarded");
   * {
   *   await using lock = await mutex.acquireAsync({ timeout: 1000 });
   *   if (lock.ownerDied) console.log("repair what the last owner left half-done");
   *   console.log(lock.fencingToken > 0); // true
   * }
   * await mutex.disconnect();
   * ```
   *
   * @param options `timeout` in ms and an abort `signal`.
   * @returns The guard.
   * @throws {TimeoutError} If the timeout expired before the lock was taken.
   */
  async acquireAsync(options?: AsyncWaitOptions): Promise<RedisLockGuard> {
    if (!(await this.lockAsync(options))) {
      throw new TimeoutError(
        `Cannot acquire mutex "${this.#name}": timed out after ${
          normalizeTimeout(options?.timeout)
        } ms`,
      );
    }
    const hold = this.#hold!;
    return makeRedisGuard(async () => {
      if (this.#hold === hold) await this.unlock();
    }, {
      fencingToken: hold.fence,
      ownerDied: hold.died,
      signal: hold.lost.signal,
    });
  }

  /**
   * Runs `fn` while holding the lock and releases it however `fn` ends.
   *
   * @example
   * ```ts
   * import { RedisMutex } from "@concur/shm/redis";
   *
   * const mutex = await RedisMutex.open("redis://127.0.0.1:6379", "section");
   * console.log(await mutex.withLockAsync(() => 42)); // 42
   * await mutex.disconnect();
   * ```
   *
   * @param fn The critical section (sync or async).
   * @param options `timeout` in ms and an abort `signal` for taking the lock.
   * @returns What `fn` returned.
   * @throws {TimeoutError} If the lock could not be taken in time (`fn` does not run).
   */
  async withLockAsync<T>(fn: () => T | Promise<T>, options?: AsyncWaitOptions): Promise<T> {
    await using _guard = await this.acquireAsync(options);
    return await fn();
  }

  /**
   * Deletes the lock's keys (its fencing counter too): use only when no one uses it.
   *
   * @example
   * ```ts
   * import { RedisMutex } from "@concur/shm/redis";
   *
   * const mutex = await RedisMutex.open("redis://127.0.0.1:6379", "old");
   * await mutex.destroy();
   * await mutex.disconnect();
   * ```
   */
  async destroy(): Promise<void> {
    this.#checkOpen("destroy");
    this.#endHold();
    await this.#connection.call("del", [this.#state, this.#free]);
  }

  /**
   * Stops renewing and closes the connections. A lock still held stays held
   * until its lease runs out (the next owner is then told `ownerDied`):
   * unlock first.
   *
   * @example
   * ```ts
   * import { RedisMutex } from "@concur/shm/redis";
   *
   * await using mutex = await RedisMutex.open("redis://127.0.0.1:6379", "scoped");
   * ```
   */
  async disconnect(): Promise<void> {
    this.#endHold();
    await this.#connection.close();
  }

  /** Same as {@linkcode RedisMutex.disconnect}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.disconnect();
  }
}
