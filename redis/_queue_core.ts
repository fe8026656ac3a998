/**
 * The engine behind `RedisQueue` and `RedisJoinableQueue`.
 *
 * Keys of a queue named N (all in the `{N}` hash tag, so one Cluster slot):
 *
 * | key            | type   | holds                                                        |
 * |----------------|--------|--------------------------------------------------------------|
 * | `q:meta`       | hash   | kind, capacity, closed (0/1), unfinished, seq                |
 * | `q:items`      | list   | encoded items; put pushes left, get pops right (FIFO)        |
 * | `q:space`      | list   | condition list: non-empty ⇔ the queue is not full, or closed |
 * | `q:idle`       | list   | condition list: non-empty ⇔ unfinished == 0 (joinable)       |
 * | `q:pending`    | hash   | delivery id → encoded item, for items taken but not acked    |
 * | `q:leases`     | zset   | delivery id → lease deadline (server ms)                     |
 *
 * Invariants every script keeps (all multi-step updates are single Lua
 * scripts, so they hold between any two commands):
 * - `space` is non-empty exactly when `closed == 1` or `LLEN(items) <
 *   capacity` (capacity 0: unbounded, `space` unused); `idle` is non-empty
 *   exactly when `unfinished == 0`.
 * - Once closed, `items` holds one sentinel as its leftmost element (no
 *   put can push after it; redelivery pushes on the right), so a closed
 *   queue's list is never empty and blocked getters wake; a get that pops
 *   the sentinel puts it back.
 * - A joinable item is in exactly one of `items`, or `pending` + `leases`
 *   (same id), until acknowledged; `unfinished` = puts − acknowledgements.
 *
 * Waiting never polls: a waiter runs its script, and if the condition is
 * false it blocks in `BLMOVE cond cond RIGHT RIGHT` (a no-op move that
 * returns as soon as the list is non-empty) and retries. Because the lists
 * are level-triggered, a change between the failed script and the block is
 * not lost. A joinable getter also bounds its block by the earliest lease
 * deadline, so an expired lease is redelivered on time.
 *
 * @module
 */

import { Deadline } from "../shm/timeout.ts";
import {
  ClosedError,
  LayoutError,
  QueueClosedError,
  QueueEmptyError,
  QueueFullError,
  TaskDoneError,
} from "../primitives/errors.ts";
import { Connection, LUA_NOW, type RedisConnectOptions, type Script } from "./_connection.ts";
import { type RedisCodec, type RedisCodecName, resolveRedisCodec } from "./codec.ts";

/**
 * Options of `RedisQueue.open`.
 *
 * @example
 * ```ts ignore
 * import { RedisQueue, type RedisQueueOptions } from "@concur/shm/redis";
 *
 * const options: RedisQueueOptions<string> = { capacity: 1000, codec: "string" };
 * const queue = await RedisQueue.open("redis://127.0.0.1:6379", "lines", options);
 * await queue.putAsync("first line");
 * await queue.disconnect();
 * ```
 */
export interface RedisQueueOptions<T = unknown> extends RedisConnectOptions {
  /**
   * Maximum number of items waiting in the queue; `0` or omitted: unbounded.
   * Stored with the queue: reopening with another value is a `LayoutError`
   * (omit it to adopt the stored one).
   */
  capacity?: number;
  /** How items become Redis strings: `"json"` (default), `"string"`, or a custom codec. */
  codec?: RedisCodecName | RedisCodec<T>;
}

/**
 * Options of `RedisJoinableQueue.open`.
 *
 * @example
 * ```ts ignore
 * import { RedisJoinableQueue, type RedisJoinableQueueOptions } from "@concur/shm/redis";
 *
 * // an item a dead worker took is redelivered 60 s after its lease was last renewed
 * const options: RedisJoinableQueueOptions<number> = { visibilityTimeout: 60_000 };
 * const jobs = await RedisJoinableQueue.open("redis://127.0.0.1:6379", "jobs", options);
 * await jobs.disconnect();
 * ```
 */
export interface RedisJoinableQueueOptions<T = unknown> extends RedisQueueOptions<T> {
  /**
   * Milliseconds an item taken by `getAsync` stays leased to this handle
   * without being renewed. The handle renews its leases every third of it
   * while it lives; if it dies, its unacknowledged items are redelivered
   * this long after its last renewal. Default 30000.
   */
  visibilityTimeout?: number;
}

const SENTINEL = "\u0000concur:closed";
const MAX_BATCH = 1000;

const INIT: Script = {
  name: "concurQueueInit",
  keys: 3,
  lua: `local m = redis.call('HMGET', KEYS[1], 'kind', 'capacity')
if m[1] then return m end
redis.call('HSET', KEYS[1], 'kind', ARGV[1], 'capacity', ARGV[2], 'closed', 0, 'unfinished', 0, 'seq', 0)
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('RPUSH', KEYS[2], 1)
redis.call('RPUSH', KEYS[3], 1)
return {ARGV[1], ARGV[2]}`,
};

// KEYS meta items space idle; ARGV capacity joinable item...
// Returns how many leading items were pushed (0: full), -1 closed, -3 missing.
const PUT: Script = {
  name: "concurQueuePut",
  keys: 4,
  lua: `local closed = redis.call('HGET', KEYS[1], 'closed')
if not closed then return -3 end
if closed == '1' then return -1 end
local cap = tonumber(ARGV[1])
local n = #ARGV - 2
if cap > 0 then
  local len = redis.call('LLEN', KEYS[2])
  if len >= cap then
    redis.call('DEL', KEYS[3])
    return 0
  end
  if n > cap - len then n = cap - len end
  if len + n >= cap then redis.call('DEL', KEYS[3]) end
end
redis.call('LPUSH', KEYS[2], unpack(ARGV, 3, n + 2))
if ARGV[2] == '1' then
  redis.call('HINCRBY', KEYS[1], 'unfinished', n)
  redis.call('DEL', KEYS[4])
end
return n`,
};

// The same for an unbounded plain queue, with fewer arguments (the single
// put is the latency-critical call). KEYS meta items; ARGV item...
const PUT_UNBOUNDED: Script = {
  name: "concurQueuePutUnbounded",
  keys: 2,
  lua: `local closed = redis.call('HGET', KEYS[1], 'closed')
if not closed then return -3 end
if closed == '1' then return -1 end
redis.call('LPUSH', KEYS[2], unpack(ARGV))
return #ARGV`,
};

// Shared tail of the get scripts: restore the "not full" condition.
const LUA_FIX_SPACE = `local function fix_space(cap, closed)
  if cap > 0 and not closed and redis.call('LLEN', KEYS[2]) < cap
      and redis.call('EXISTS', KEYS[3]) == 0 then
    redis.call('RPUSH', KEYS[3], 1)
  end
end
`;

// KEYS meta items space; ARGV capacity max.
// Returns the items (array), -2 empty, -1 closed and drained, -3 missing.
const GET: Script = {
  name: "concurQueueGet",
  keys: 3,
  lua: `${LUA_FIX_SPACE}local flag = redis.call('HGET', KEYS[1], 'closed')
if not flag then return -3 end
local closed = flag == '1'
local out = redis.call('RPOP', KEYS[2], ARGV[2])
if not out then return -2 end
if closed and redis.call('LLEN', KEYS[2]) == 0 then
  redis.call('RPUSH', KEYS[2], table.remove(out))
  if #out == 0 then return -1 end
end
fix_space(tonumber(ARGV[1]), closed)
return out`,
};

// KEYS meta items space pending leases; ARGV capacity max leaseMs.
// Returns [id, item, id, item...], or when nothing can be taken: ms until
// the earliest lease expires (>= 0), -2 empty without leases, -1 closed and
// drained (no lease outstanding either), -3 missing.
const GET_LEASED: Script = {
  name: "concurQueueGetLeased",
  keys: 5,
  lua: `${LUA_NOW}${LUA_FIX_SPACE}local m = redis.call('HMGET', KEYS[1], 'kind', 'closed')
if not m[1] then return -3 end
local closed = m[2] == '1'
local cap = tonumber(ARGV[1])
local now = now_ms()
local expired = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', now, 'LIMIT', 0, 100)
if #expired > 0 then
  for i = 1, #expired do
    local v = redis.call('HGET', KEYS[4], expired[i])
    if v then redis.call('RPUSH', KEYS[2], v) end
  end
  redis.call('HDEL', KEYS[4], unpack(expired))
  redis.call('ZREM', KEYS[5], unpack(expired))
  if cap > 0 and redis.call('LLEN', KEYS[2]) >= cap then redis.call('DEL', KEYS[3]) end
end
local out = redis.call('RPOP', KEYS[2], ARGV[2])
if out and closed and redis.call('LLEN', KEYS[2]) == 0 then
  redis.call('RPUSH', KEYS[2], table.remove(out))
  if #out == 0 then out = nil end
end
if not out then
  local first = redis.call('ZRANGE', KEYS[5], 0, 0, 'WITHSCORES')
  if first[2] then
    local wait = tonumber(first[2]) - now
    if wait < 0 then wait = 0 end
    return wait
  end
  if closed then return -1 end
  return -2
end
local deadline = now + tonumber(ARGV[3])
local result, fields, scores = {}, {}, {}
for i = 1, #out do
  local id = tostring(redis.call('HINCRBY', KEYS[1], 'seq', 1))
  result[#result + 1] = id
  result[#result + 1] = out[i]
  fields[#fields + 1] = id
  fields[#fields + 1] = out[i]
  scores[#scores + 1] = deadline
  scores[#scores + 1] = id
end
redis.call('HSET', KEYS[4], unpack(fields))
redis.call('ZADD', KEYS[5], unpack(scores))
fix_space(cap, closed)
return result`,
};

// GET for an unbounded plain queue. KEYS meta items; ARGV max.
const GET_UNBOUNDED: Script = {
  name: "concurQueueGetUnbounded",
  keys: 2,
  lua: `local flag = redis.call('HGET', KEYS[1], 'closed')
if not flag then return -3 end
local out = redis.call('RPOP', KEYS[2], ARGV[1])
if not out then return -2 end
if flag == '1' and redis.call('LLEN', KEYS[2]) == 0 then
  redis.call('RPUSH', KEYS[2], table.remove(out))
  if #out == 0 then return -1 end
end
return out`,
};

// KEYS meta pending leases idle; ARGV id. Returns 1 acknowledged, 0 lease lost.
const ACK: Script = {
  name: "concurQueueAck",
  keys: 4,
  lua: `if redis.call('ZREM', KEYS[3], ARGV[1]) == 0 then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
local left = redis.call('HINCRBY', KEYS[1], 'unfinished', -1)
if left <= 0 and redis.call('EXISTS', KEYS[4]) == 0 then redis.call('RPUSH', KEYS[4], 1) end
return 1`,
};

// KEYS leases; ARGV leaseMs id... Returns the ids whose lease was lost.
const RENEW: Script = {
  name: "concurQueueRenew",
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

// KEYS meta items space; ARGV sentinel. Returns 1 closed now, 0 already, -3 missing.
const CLOSE: Script = {
  name: "concurQueueClose",
  keys: 3,
  lua: `local m = redis.call('HMGET', KEYS[1], 'kind', 'closed')
if not m[1] then return -3 end
if m[2] == '1' then return 0 end
redis.call('HSET', KEYS[1], 'closed', 1)
redis.call('LPUSH', KEYS[2], ARGV[1])
if redis.call('EXISTS', KEYS[3]) == 0 then redis.call('RPUSH', KEYS[3], 1) end
return 1`,
};

// KEYS meta items. Returns [waiting items, closed, unfinished] or -3.
const STATE: Script = {
  name: "concurQueueState",
  keys: 2,
  lua: `local m = redis.call('HMGET', KEYS[1], 'kind', 'closed', 'unfinished')
if not m[1] then return -3 end
local len = redis.call('LLEN', KEYS[2])
if m[2] == '1' then len = len - 1 end
return {len, tonumber(m[2]), tonumber(m[3])}`,
};

const SCRIPTS = [
  INIT,
  PUT,
  PUT_UNBOUNDED,
  GET,
  GET_UNBOUNDED,
  GET_LEASED,
  ACK,
  RENEW,
  CLOSE,
  STATE,
];

/** A snapshot of a queue's counters. */
interface QueueState {
  size: number;
  closed: boolean;
  unfinished: number;
}

/** One item taken by a joinable get, not yet acknowledged. */
interface Delivery {
  id: string;
  lost: boolean;
}

/** @internal The shared engine of the Redis queues (see the module doc). */
export class QueueCore<T> {
  readonly connection: Connection;
  readonly name: string;
  readonly capacity: number;
  readonly joinable: boolean;
  readonly visibilityTimeout: number;
  readonly #codec: RedisCodec<T>;
  readonly #kind: string;
  readonly #meta: string;
  readonly #items: string;
  readonly #space: string;
  readonly #idle: string;
  readonly #pending: string;
  readonly #leases: string;
  /** An unbounded plain queue: uses the shorter scripts. */
  readonly #simple: boolean;
  /** This handle's unacknowledged deliveries, oldest first. */
  readonly #deliveries: Delivery[] = [];
  #renewTimer: ReturnType<typeof setInterval> | undefined;

  private constructor(
    connection: Connection,
    name: string,
    kind: string,
    capacity: number,
    codec: RedisCodec<T>,
    visibilityTimeout: number,
  ) {
    this.connection = connection;
    this.name = name;
    this.#kind = kind;
    this.capacity = capacity;
    this.joinable = kind === "JoinableQueue";
    this.visibilityTimeout = visibilityTimeout;
    this.#codec = codec;
    this.#meta = connection.key(name, "q:meta");
    this.#items = connection.key(name, "q:items");
    this.#space = connection.key(name, "q:space");
    this.#idle = connection.key(name, "q:idle");
    this.#pending = connection.key(name, "q:pending");
    this.#leases = connection.key(name, "q:leases");
    this.#simple = !this.joinable && capacity === 0;
  }

  /** Connects, creates the queue if it does not exist, and checks its kind and capacity. */
  static async open<T>(
    kind: "Queue" | "JoinableQueue",
    url: string,
    name: string,
    options: RedisJoinableQueueOptions<T> | undefined,
  ): Promise<QueueCore<T>> {
    const capacity = options?.capacity;
    if (
      capacity !== undefined &&
      (!Number.isSafeInteger(capacity) || capacity < 0)
    ) {
      throw new RangeError(`Queue capacity must be an integer >= 0: received ${capacity}`);
    }
    const visibility = options?.visibilityTimeout ?? 30000;
    if (typeof visibility !== "number" || !(visibility >= 10) || !Number.isFinite(visibility)) {
      throw new RangeError(
        `visibilityTimeout must be a finite number >= 10 ms: received ${visibility}`,
      );
    }
    const codec = resolveRedisCodec<T>(options?.codec);
    const connection = await Connection.open(url, options, SCRIPTS);
    try {
      const probe = new QueueCore<T>(connection, name, kind, 0, codec, visibility);
      const [storedKind, storedCapacity] = await connection.run<[string, string]>(INIT, [
        probe.#meta,
        probe.#space,
        probe.#idle,
        kind,
        capacity ?? 0,
      ]);
      if (storedKind !== kind) {
        throw new LayoutError(
          "wrong-kind",
          `Cannot open ${kind} "${name}": Redis holds a ${storedKind} under that name`,
        );
      }
      const stored = Number(storedCapacity);
      if (capacity !== undefined && stored !== capacity) {
        throw new LayoutError(
          "bad-parameters",
          `Cannot open ${kind} "${name}" with capacity ${capacity}: it was created with capacity ${stored}`,
        );
      }
      return new QueueCore<T>(connection, name, kind, stored, codec, visibility);
    } catch (err) {
      await connection.close();
      throw err;
    }
  }

  #missing(op: string): ClosedError {
    return new ClosedError(
      `Cannot ${op}: ${this.#kind} "${this.name}" no longer exists in Redis (destroyed)`,
    );
  }

  #checkOpen(op: string): void {
    if (this.connection.closed) {
      throw new ClosedError(`Cannot ${op}: this ${this.#kind} handle was disconnected`);
    }
  }

  #encode(value: T): string {
    const encoded = this.#codec.encode(value);
    if (typeof encoded !== "string") {
      throw new TypeError(`Cannot put: the codec returned ${typeof encoded}, not a string`);
    }
    return encoded;
  }

  /** Puts one item: the common case, one script call when there is room. */
  async putOne(value: T, timeout: number | undefined, signal?: AbortSignal): Promise<void> {
    if (this.#simple && !this.connection.closed && !signal?.aborted) {
      const pushed = await this.connection.run<number>(PUT_UNBOUNDED, [
        this.#meta,
        this.#items,
        this.#encode(value),
      ]);
      if (pushed === 1) return;
      if (pushed === -3) throw this.#missing("put");
      if (pushed === -1) throw new QueueClosedError(`Cannot put: queue "${this.name}" is closed`);
    }
    return this.put([value], timeout, signal);
  }

  /** Puts items in order, waiting for room; returns how many were put before a timeout. */
  async put(
    values: readonly T[],
    timeout: number | undefined,
    signal?: AbortSignal,
  ): Promise<void> {
    this.#checkOpen("put");
    signal?.throwIfAborted();
    const encoded = values.map((value) => this.#encode(value));
    const deadline = new Deadline(timeout);
    const chunkSize = this.capacity > 0 ? Math.min(MAX_BATCH, this.capacity) : MAX_BATCH;
    let done = 0;
    while (done < encoded.length) {
      const chunk = done === 0 && encoded.length <= chunkSize
        ? encoded
        : encoded.slice(done, done + chunkSize);
      const pushed = this.#simple
        ? await this.connection.run<number>(PUT_UNBOUNDED, [this.#meta, this.#items, ...chunk])
        : await this.connection.run<number>(PUT, [
          this.#meta,
          this.#items,
          this.#space,
          this.#idle,
          this.capacity,
          this.joinable ? 1 : 0,
          ...chunk,
        ]);
      if (pushed === -3) throw this.#missing("put");
      if (pushed === -1) {
        throw new QueueClosedError(
          `Cannot put: queue "${this.name}" is closed` +
            (done > 0 ? ` (${done} of ${encoded.length} items were put before)` : ""),
          { cause: done },
        );
      }
      if (pushed > 0) {
        done += pushed;
        continue;
      }
      const left = deadline.remaining();
      if (left === 0) {
        throw new QueueFullError(
          `Cannot put: queue "${this.name}" is full (capacity ${this.capacity})` +
            (done > 0 ? `; ${done} of ${encoded.length} items were put` : "") +
            (timeout !== undefined && timeout > 0 ? `, timed out after ${timeout} ms` : ""),
          { cause: done },
        );
      }
      await this.connection.waitNonEmpty(this.#space, left, signal);
    }
  }

  /** Takes one item: the common case, one script call when one is there. */
  async getOne(timeout: number | undefined, signal?: AbortSignal): Promise<T> {
    if (this.#simple && !this.connection.closed && !signal?.aborted) {
      const reply = await this.connection.run<string[] | number>(GET_UNBOUNDED, [
        this.#meta,
        this.#items,
        1,
      ]);
      if (typeof reply !== "number") return this.#codec.decode(reply[0]);
      if (reply === -3) throw this.#missing("get");
      if (reply === -1) throw this.#closedAndDrained();
      if (timeout !== undefined && !(timeout > 0)) {
        throw new QueueEmptyError(`Cannot get: queue "${this.name}" is empty`);
      }
    }
    return (await this.get(1, timeout, signal))[0];
  }

  /**
   * Takes up to `max` items (at least one), waiting while the queue is empty.
   */
  async get(max: number, timeout: number | undefined, signal?: AbortSignal): Promise<T[]> {
    this.#checkOpen("get");
    signal?.throwIfAborted();
    const deadline = new Deadline(timeout);
    for (;;) {
      let wait: number;
      if (this.joinable) {
        const reply = await this.connection.run<string[] | number>(GET_LEASED, [
          this.#meta,
          this.#items,
          this.#space,
          this.#pending,
          this.#leases,
          this.capacity,
          max,
          this.visibilityTimeout,
        ]);
        if (typeof reply !== "number") return this.#takeDeliveries(reply);
        if (reply === -3) throw this.#missing("get");
        if (reply === -1) throw this.#closedAndDrained();
        // Bounded by the earliest lease, or by one visibility timeout when
        // none was seen: a lease taken between this script and the block
        // (by a consumer that then dies) is still redelivered on time.
        wait = reply >= 0 ? reply + 1 : this.visibilityTimeout;
      } else {
        const reply = this.#simple
          ? await this.connection.run<string[] | number>(GET_UNBOUNDED, [
            this.#meta,
            this.#items,
            max,
          ])
          : await this.connection.run<string[] | number>(GET, [
            this.#meta,
            this.#items,
            this.#space,
            this.capacity,
            max,
          ]);
        if (typeof reply !== "number") return reply.map((raw) => this.#codec.decode(raw));
        if (reply === -3) throw this.#missing("get");
        if (reply === -1) throw this.#closedAndDrained();
        wait = Infinity;
      }
      const left = deadline.remaining();
      if (left === 0) {
        throw new QueueEmptyError(
          `Cannot get: queue "${this.name}" is empty` +
            (timeout !== undefined && timeout > 0 ? ` (timed out after ${timeout} ms)` : ""),
        );
      }
      await this.connection.waitNonEmpty(this.#items, Math.min(left, wait), signal);
    }
  }

  #closedAndDrained(): QueueClosedError {
    return new QueueClosedError(`Cannot get: queue "${this.name}" is closed and drained`);
  }

  #takeDeliveries(reply: string[]): T[] {
    const values: T[] = [];
    for (let i = 0; i < reply.length; i += 2) {
      this.#deliveries.push({ id: reply[i], lost: false });
      values.push(this.#codec.decode(reply[i + 1]));
    }
    this.#startRenewing();
    return values;
  }

  #startRenewing(): void {
    if (this.#renewTimer !== undefined || this.#deliveries.length === 0) return;
    const period = Math.max(5, Math.floor(this.visibilityTimeout / 3));
    const timer = setInterval(() => void this.#renew(), period);
    // A forgotten taskDone() must not keep the process alive.
    Deno.unrefTimer(timer);
    this.#renewTimer = timer;
  }

  #stopRenewing(): void {
    if (this.#renewTimer === undefined) return;
    clearInterval(this.#renewTimer);
    this.#renewTimer = undefined;
  }

  async #renew(): Promise<void> {
    const live = this.#deliveries.filter((d) => !d.lost);
    if (live.length === 0 || this.connection.closed) return;
    try {
      const lost = await this.connection.run<string[]>(RENEW, [
        this.#leases,
        this.visibilityTimeout,
        ...live.map((d) => d.id),
      ]);
      for (const id of lost) {
        const delivery = this.#deliveries.find((d) => d.id === id);
        if (delivery) delivery.lost = true;
      }
    } catch {
      // A failed renewal is retried next period; if Redis stays away, the
      // leases expire and the items are redelivered, which is the point.
    }
  }

  /** Acknowledges this handle's oldest unacknowledged delivery. */
  async taskDone(): Promise<void> {
    this.#checkOpen("taskDone");
    const delivery = this.#deliveries.shift();
    if (delivery === undefined) {
      throw new TaskDoneError(
        `taskDone() called too many times: this handle of queue "${this.name}" holds no unacknowledged item`,
      );
    }
    if (this.#deliveries.length === 0) this.#stopRenewing();
    const acked = delivery.lost ? 0 : await this.connection.run<number>(ACK, [
      this.#meta,
      this.#pending,
      this.#leases,
      this.#idle,
      delivery.id,
    ]);
    if (acked !== 1) {
      throw new TaskDoneError(
        `taskDone() too late: the lease of delivery ${delivery.id} of queue "${this.name}" expired ` +
          `(visibilityTimeout ${this.visibilityTimeout} ms) and the item was redelivered`,
      );
    }
  }

  /** How many items this handle took and has not acknowledged. */
  get outstanding(): number {
    return this.#deliveries.length;
  }

  /** Waits until every item put has been acknowledged; `false` on timeout. */
  async join(timeout: number | undefined, signal?: AbortSignal): Promise<boolean> {
    this.#checkOpen("join");
    signal?.throwIfAborted();
    const deadline = new Deadline(timeout);
    for (;;) {
      const state = await this.state();
      if (state.unfinished <= 0) return true;
      const left = deadline.remaining();
      if (left === 0) return false;
      await this.connection.waitNonEmpty(this.#idle, left, signal);
    }
  }

  /** Sizes and flags, read atomically. */
  async state(): Promise<QueueState> {
    this.#checkOpen("read the state");
    const reply = await this.connection.run<number[] | number>(STATE, [this.#meta, this.#items]);
    if (typeof reply === "number") throw this.#missing("read the state");
    return { size: reply[0], closed: reply[1] === 1, unfinished: reply[2] };
  }

  /** Closes the queue for every handle; returns whether this call closed it. */
  async close(): Promise<boolean> {
    this.#checkOpen("close");
    const reply = await this.connection.run<number>(CLOSE, [
      this.#meta,
      this.#items,
      this.#space,
      SENTINEL,
    ]);
    if (reply === -3) throw this.#missing("close");
    return reply === 1;
  }

  /** Deletes every key of the queue. */
  async destroy(): Promise<void> {
    this.#checkOpen("destroy");
    await this.connection.call("del", [
      this.#meta,
      this.#items,
      this.#space,
      this.#idle,
      this.#pending,
      this.#leases,
    ]);
  }

  /** Stops lease renewal and closes the connections. */
  async disconnect(): Promise<void> {
    this.#stopRenewing();
    await this.connection.close();
  }
}
