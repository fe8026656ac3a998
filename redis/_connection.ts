/**
 * The connections behind one Redis-backed object: a command connection for
 * scripts and plain commands, and a small pool of dedicated connections for
 * blocking waits (a connection blocked in `BLMOVE` can carry nothing else).
 *
 * Bounded everywhere: the first connect has `connectTimeout`; a lost
 * connection is retried for `reconnectTimeout` and then every pending and
 * later call fails with {@linkcode RedisConnectionError}; a command that gets
 * no answer fails after `commandTimeout`. Nothing waits forever on a dead
 * server.
 *
 * Commands are never re-sent after a connection drops
 * (`autoResendUnfulfilledCommands: false`): a put whose reply was lost fails
 * instead of possibly being applied twice.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { Command, Redis } from "./_ioredis.ts";
import { RedisConnectionError } from "./errors.ts";

/**
 * Connection options shared by every Redis-backed object.
 *
 * @example
 * ```ts ignore
 * import { RedisMutex } from "@concur/shm/redis";
 *
 * const mutex = await RedisMutex.open("redis://127.0.0.1:6379", "ledger", {
 *   connectTimeout: 2000,
 *   reconnectTimeout: 30_000, // ride out a Redis restart
 *   prefix: "myapp:",
 * });
 * await mutex.disconnect();
 * ```
 */
export interface RedisConnectOptions {
  /** Milliseconds allowed for the first connection (and each reconnect attempt). Default 5000. */
  connectTimeout?: number;
  /**
   * Milliseconds a lost connection is retried before pending and later calls
   * fail with `RedisConnectionError`. Default 10000.
   */
  reconnectTimeout?: number;
  /** Milliseconds a non-blocking command may wait for its reply. Default 15000. */
  commandTimeout?: number;
  /** Prefix of every key (before the `{name}` hash tag). Default `"concur:"`. */
  prefix?: string;
}

/** A Lua script run by `EVALSHA` (loaded on demand, also inside pipelines). */
export interface Script {
  /** Command name it is registered under on the client. */
  readonly name: string;
  /** Number of leading arguments that are keys. */
  readonly keys: number;
  /** The Lua source. */
  readonly lua: string;
}

/** Lua helper prepended to scripts that need the server clock (ms). */
export const LUA_NOW = `local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

type Arg = string | number;

interface BlockingConnection {
  readonly client: Redis;
  readonly id: number;
}

/** Hides the password of a Redis URL for messages. */
function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return url;
  }
}

/**
 * Checks a Redis URL before any connection is tried.
 *
 * @throws {TypeError} If it is not a `redis://` or `rediss://` URL.
 */
export function checkUrl(url: string): void {
  if (typeof url !== "string") {
    throw new TypeError(`Redis URL must be a string: received ${typeof url}`);
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`Invalid Redis URL "${url}": expected redis://host:port[/db]`);
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw new TypeError(
      `Invalid Redis URL "${
        describeUrl(url)
      }": the scheme must be redis: or rediss:, not ${parsed.protocol}`,
    );
  }
  if (!parsed.hostname) {
    throw new TypeError(`Invalid Redis URL "${describeUrl(url)}": no host`);
  }
}

/**
 * Checks an object name: non-empty, no `{` or `}` (they would break the
 * hash tag that keeps all of an object's keys in one Cluster slot).
 */
export function checkName(name: string): void {
  if (typeof name !== "string" || name.length === 0 || /[{}]/.test(name)) {
    throw new TypeError(
      `Invalid Redis object name ${
        JSON.stringify(name)
      }: expected a non-empty string without { or }`,
    );
  }
}

/**
 * ioredis arms a timer of this length on disconnect that only a socket
 * 'close' clears; on a socket that never opened or already died it lingers,
 * so `close()` waits it out (a failing path only) instead of leaving a
 * timer behind.
 */
const DISCONNECT_TIMEOUT = 20;

const CONNECTION_FAILURE =
  /Connection is closed|ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|EPIPE|EHOSTUNREACH|ENETUNREACH|timed out|Stream isn't writeable|MaxRetriesPerRequest|connect ETIMEDOUT|NOAUTH|WRONGPASS|LOADING|invalid password|Reached the max retries/i;

/** The connections of one object (see the module doc). */
export class Connection {
  readonly url: string;
  readonly prefix: string;
  readonly command: Redis;
  readonly #options: Required<RedisConnectOptions>;
  readonly #scripts: readonly Script[];
  readonly #idle: BlockingConnection[] = [];
  readonly #busy = new Set<BlockingConnection>();
  readonly #inFlight = new InFlight();
  #lastError: Error | undefined;
  #closed = false;
  #lingerUntil = 0;

  /** Disconnects a client, noting when ioredis's disconnect timer may still be pending. */
  #drop(client: Redis): void {
    if (client.status !== "ready") {
      this.#lingerUntil = performance.now() + DISCONNECT_TIMEOUT + 10;
    }
    client.disconnect();
    if (client !== this.command) this.#inFlight.forget(client);
  }

  async #settle(): Promise<void> {
    const left = this.#lingerUntil - performance.now();
    if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
  }

  private constructor(url: string, options: Required<RedisConnectOptions>, scripts: Script[]) {
    this.url = describeUrl(url);
    this.prefix = options.prefix;
    this.#options = options;
    this.#scripts = scripts;
    this.command = this.#makeClient(url);
  }

  /**
   * Connects (bounded by `connectTimeout`) and checks the server answers.
   *
   * @throws {TypeError} For a malformed URL.
   * @throws {RedisConnectionError} If Redis cannot be reached.
   */
  static async open(
    url: string,
    options: RedisConnectOptions | undefined,
    scripts: Script[],
  ): Promise<Connection> {
    checkUrl(url);
    const full: Required<RedisConnectOptions> = {
      connectTimeout: positive(options?.connectTimeout, 5000, "connectTimeout"),
      reconnectTimeout: positive(options?.reconnectTimeout, 10000, "reconnectTimeout"),
      commandTimeout: positive(options?.commandTimeout, 15000, "commandTimeout"),
      prefix: options?.prefix ?? "concur:",
    };
    const connection = new Connection(url, full, scripts);
    try {
      await connection.#connect(connection.command);
    } catch (err) {
      connection.#closed = true;
      connection.#inFlight.stop();
      connection.#drop(connection.command);
      await connection.#settle();
      throw err;
    }
    return connection;
  }

  /** `prefix{name}:part` — every key of one object shares the `{name}` hash tag. */
  key(name: string, part: string): string {
    return `${this.prefix}{${name}}:${part}`;
  }

  #makeClient(url: string): Redis {
    let downSince = 0;
    let ready = false;
    const client = new Redis(url, {
      lazyConnect: true,
      connectTimeout: this.#options.connectTimeout,
      maxRetriesPerRequest: null,
      enableOfflineQueue: true,
      autoResendUnfulfilledCommands: false,
      enableAutoPipelining: false,
      disconnectTimeout: DISCONNECT_TIMEOUT,
      retryStrategy: (times: number) => {
        // Never retry a connection that was never ready (the first connect
        // reports its failure), nor one this side closed.
        if (this.#closed || !ready) return null;
        if (times === 1) downSince = performance.now();
        if (performance.now() - downSince > this.#options.reconnectTimeout) return null;
        return Math.min(20 * times, 250);
      },
    });
    client.on("ready", () => {
      ready = true;
    });
    client.on("error", (err: Error) => {
      this.#lastError = err;
    });
    return client;
  }

  async #connect(client: Redis): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new RedisConnectionError(
              `Cannot reach Redis at ${this.url}: no answer within ${this.#options.connectTimeout} ms (connectTimeout)`,
            ),
          ),
        this.#options.connectTimeout,
      );
    });
    try {
      await Promise.race([client.connect(), limit]);
      await Promise.race([client.ping(), limit]);
    } catch (err) {
      throw this.wrap(err);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Turns a client failure into a {@linkcode RedisConnectionError}; other errors pass. */
  wrap(err: unknown): unknown {
    if (err instanceof RedisConnectionError) return err;
    if (this.#closed) {
      return new RedisConnectionError(`Cannot use Redis at ${this.url}: disconnected`, {
        cause: err,
      });
    }
    const message = err instanceof Error ? err.message : String(err);
    const isReply = err instanceof Error && err.name === "ReplyError";
    if (isReply && !/NOAUTH|WRONGPASS|LOADING|invalid password/i.test(message)) return err;
    if (!CONNECTION_FAILURE.test(message) && !isReply) return err;
    const detail = this.#lastError && this.#lastError.message !== message
      ? `${this.#lastError.message} (${message})`
      : message;
    return new RedisConnectionError(`Cannot reach Redis at ${this.url}: ${detail}`, {
      cause: err,
    });
  }

  /** Sends one command on the command connection, with bounded, clearly reported failures. */
  call<T>(name: string, args: Arg[]): Promise<T> {
    if (this.#closed) return Promise.reject(this.wrap(new Error("closed")));
    return this.#inFlight.send<T>(
      this.command,
      new Command(name, args, UTF8),
      performance.now() + this.#options.commandTimeout,
    ).then(undefined, this.#rethrow);
  }

  readonly #rethrow = (err: unknown): never => {
    throw this.wrap(err);
  };

  /**
   * Runs a script with `EVALSHA`, falling back to `EVAL` (which caches it
   * again) when the server answers NOSCRIPT, e.g. after a restart.
   */
  run<T>(script: Script, args: Arg[]): Promise<T> {
    if (this.#closed) return Promise.reject(this.wrap(new Error("closed")));
    const deadline = performance.now() + this.#options.commandTimeout;
    return this.#inFlight.send<T>(
      this.command,
      new Command("evalsha", [shaOf(script), script.keys, ...args], UTF8),
      deadline,
    ).then(undefined, (err) => {
      if (!(err instanceof Error) || !err.message.startsWith("NOSCRIPT")) throw this.wrap(err);
      return this.#inFlight.send<T>(
        this.command,
        new Command("eval", [script.lua, script.keys, ...args], UTF8),
        deadline,
      ).then(undefined, this.#rethrow);
    });
  }

  /**
   * Waits until the list `key` is non-empty, without taking anything: a
   * `BLMOVE key key RIGHT RIGHT` moves the last element onto itself. Used on
   * level-triggered "condition lists" whose non-emptiness IS the condition
   * (not empty, not full, idle, free), so a wake-up can never be lost: a
   * condition that became true before the wait started makes it return at
   * once.
   *
   * @param timeout Milliseconds (Infinity: no limit); at least 1 ms is waited.
   * @returns `true` if the list was non-empty, `false` on timeout.
   * @throws The signal's reason if it aborts (the blocked command is
   * cancelled with `CLIENT UNBLOCK`, or its connection dropped).
   */
  async waitNonEmpty(key: string, timeout: number, signal?: AbortSignal): Promise<boolean> {
    signal?.throwIfAborted();
    const connection = await this.#takeBlocking();
    const seconds = timeout === Infinity ? 0 : Math.max(1, Math.ceil(timeout)) / 1000;
    let aborted = false;
    let onAbort: (() => void) | undefined;
    const abortedPromise = new Promise<never>((_, reject) => {
      if (!signal) return;
      onAbort = () => {
        aborted = true;
        reject(signal.reason);
        // UNBLOCK reaches the server on another socket: if BLMOVE was not yet
        // blocked there (reply 0) the connection cannot be trusted to return
        // soon, so it is dropped instead of pooled.
        this.command.client("UNBLOCK", connection.id).then(
          (n) => {
            if (n === 0) this.#drop(connection.client);
          },
          () => this.#drop(connection.client),
        );
      };
      signal.addEventListener("abort", onAbort, { once: true });
    });
    abortedPromise.catch(() => {});
    const blocked = this.#inFlight.send<string | null>(
      connection.client,
      new Command("blmove", [key, key, "RIGHT", "RIGHT", seconds], UTF8),
      Infinity,
    );
    let healthy = true;
    // A dropped connection loses nothing here (BLMOVE onto itself changes
    // nothing): report it as a wake-up, so the caller retries its script on
    // the command connection, which reconnects or fails clearly.
    const settled = blocked.then(
      (value) => value !== null,
      (err) => {
        healthy = false;
        if (this.#closed) throw this.wrap(err);
        if (/Connection is closed/.test(String(err?.message))) return true;
        throw this.wrap(err);
      },
    ).finally(() => {
      if (onAbort) signal!.removeEventListener("abort", onAbort);
      this.#busy.delete(connection);
      if (healthy && !this.#closed && connection.client.status === "ready") {
        this.#idle.push(connection);
      } else {
        this.#drop(connection.client);
      }
    });
    if (!signal) return await settled;
    settled.catch(() => {});
    const result = await Promise.race([settled, abortedPromise]);
    if (aborted) throw signal.reason;
    return result;
  }

  async #takeBlocking(): Promise<BlockingConnection> {
    while (this.#idle.length > 0) {
      const connection = this.#idle.pop()!;
      if (connection.client.status === "ready") {
        this.#busy.add(connection);
        return connection;
      }
      this.#drop(connection.client);
    }
    const client = this.command.duplicate();
    client.on("error", (err: Error) => {
      this.#lastError = err;
    });
    try {
      await this.#connect(client);
      const id = await client.client("ID") as number;
      const connection = { client, id };
      if (this.#closed) throw new Error("closed");
      this.#busy.add(connection);
      return connection;
    } catch (err) {
      this.#drop(client);
      await this.#settle();
      throw this.wrap(err);
    }
  }

  /** Whether {@linkcode Connection.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Closes every connection; pending blocking waits fail with `RedisConnectionError`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#inFlight.stop();
    const clients = [...this.#idle, ...this.#busy].map((connection) => connection.client);
    for (const client of clients) this.#drop(client);
    this.#idle.length = 0;
    try {
      if (this.command.status === "ready") await this.command.quit();
    } catch {
      // already gone
    } finally {
      this.#drop(this.command);
      // Resolve only once every socket is closed (ioredis's disconnect timer
      // is then cleared), or its timer has fired: nothing is left running.
      await Promise.all([...clients, this.command].map(ended));
      await this.#settle();
    }
  }
}

const LOST =
  "Connection is closed: the connection dropped while the call was in flight (it may or may not have been applied)";

/**
 * The commands in flight on each client, failed clearly instead of hanging:
 * ioredis with `autoResendUnfulfilledCommands: false` silently drops the
 * commands that were in flight when a connection dropped (their promises
 * never settle), so a command sent on a ready connection is rejected when
 * that connection closes; and a command past its deadline is rejected by
 * one watchdog timer (ioredis's own `commandTimeout` arms a timer per
 * command that outlives dropped commands and keeps the process alive).
 * The watchdog also forgets settled commands, so the fast path costs one
 * map insertion.
 */
class InFlight {
  readonly #commands = new Map<Redis, Map<Command, { deadline: number; sent: boolean }>>();
  #watchdog: ReturnType<typeof setInterval> | undefined;

  send<T>(client: Redis, command: Command, deadline: number): Promise<T> {
    let commands = this.#commands.get(client);
    if (!commands) {
      const created = new Map<Command, { deadline: number; sent: boolean }>();
      commands = created;
      this.#commands.set(client, created);
      client.on("close", () => {
        for (const [pending, { sent }] of created) {
          if (!sent) continue;
          created.delete(pending);
          if (!pending.isSettled) pending.reject(new Error(LOST));
        }
      });
    }
    const sent = client.status === "ready";
    const promise = client.sendCommand(command) as Promise<T>;
    // A command queued while disconnected with no deadline is settled by
    // ioredis (sent after the reconnect, or failed when reconnecting gives up).
    if (sent || deadline !== Infinity) {
      commands.set(command, { deadline, sent });
      this.#startWatchdog();
    }
    return promise;
  }

  #startWatchdog(): void {
    if (this.#watchdog !== undefined) return;
    this.#watchdog = setInterval(() => {
      const now = performance.now();
      for (const commands of this.#commands.values()) {
        for (const [command, { deadline }] of commands) {
          if (command.isSettled) {
            commands.delete(command);
          } else if (deadline <= now) {
            commands.delete(command);
            command.reject(new Error("no reply within commandTimeout: command timed out"));
          }
        }
      }
    }, 250);
    // The watchdog alone must not keep a finished program alive.
    Deno.unrefTimer(this.#watchdog);
  }

  /** Forgets a dropped client (after its close has failed what was in flight). */
  forget(client: Redis): void {
    client.once("end", () => this.#commands.delete(client));
  }

  stop(): void {
    clearInterval(this.#watchdog);
    this.#watchdog = undefined;
  }
}

/** Replies as strings (ioredis's own command methods ask for the same). */
const UTF8 = { replyEncoding: "utf8" } as const;

/** Resolves when `client` has ended, or after ioredis's disconnect timer would have fired. */
function ended(client: Redis): Promise<void> {
  if (client.status === "end") return Promise.resolve();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(done, DISCONNECT_TIMEOUT + 30);
    function done(): void {
      clearTimeout(timer);
      client.off("end", done);
      resolve();
    }
    client.once("end", done);
  });
}

const SHAS = new WeakMap<Script, string>();

/** The SHA-1 `EVALSHA` names a script by. */
function shaOf(script: Script): string {
  let sha = SHAS.get(script);
  if (sha === undefined) {
    sha = createHash("sha1").update(script.lua).digest("hex");
    SHAS.set(script, sha);
  }
  return sha;
}

function positive(value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !(value > 0)) {
    throw new RangeError(`${what} must be a positive number of milliseconds: received ${value}`);
  }
  return value;
}
