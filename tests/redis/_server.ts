/**
 * A private redis-server for tests and benchmarks: started on 127.0.0.1 on
 * a free port with its own temporary directory, checked with PING, stopped
 * (and its directory removed) by `stop()`.
 *
 * When `redis-server` is not installed, tests are skipped with a clear
 * message, except under CI (`CI` set), where they run and fail loudly.
 */

const BINARY = Deno.env.get("REDIS_SERVER") ?? "redis-server";

function probe(): boolean {
  try {
    const out = new Deno.Command(BINARY, { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync();
    return out.success;
  } catch {
    return false;
  }
}

/** Whether `redis-server` can be run here. */
export const redisInstalled: boolean = probe();

/** Whether Redis tests must run (and fail if redis-server is missing): under CI. */
export const redisRequired: boolean = !!Deno.env.get("CI");

/** `ignore` value for Redis tests: skip (with one warning) only when not required. */
export const skipRedis: boolean = !redisInstalled && !redisRequired;

if (skipRedis) {
  console.warn(
    `SKIPPING Redis tests: "${BINARY}" is not installed (apt-get install -y redis-server; ` +
      `under CI they fail instead)`,
  );
}

/** Options of {@linkcode startRedis}. */
export interface RedisServerOptions {
  /** Turn the append-only file on with `appendfsync always` (durable acknowledged writes). */
  persistent?: boolean;
}

/** A running private server. */
export interface RedisServer {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  readonly pid: number;
  /** Kills the server with SIGKILL (a crash) and waits for it to exit. */
  crash(): Promise<void>;
  /** Starts it again on the same port and directory (after `crash`). */
  restart(): Promise<void>;
  /** Stops it and removes its directory. Idempotent. */
  stop(): Promise<void>;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function ping(port: number): Promise<boolean> {
  let conn: Deno.TcpConn | undefined;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(new TextEncoder().encode("PING\r\n"));
    const buf = new Uint8Array(64);
    const n = await conn.read(buf);
    return n !== null && new TextDecoder().decode(buf.subarray(0, n)).startsWith("+PONG");
  } catch {
    return false;
  } finally {
    conn?.close();
  }
}

/**
 * Starts a private redis-server and waits (at most 10 s) until it answers PING.
 *
 * @throws {Error} If redis-server is missing or does not come up.
 */
export async function startRedis(options?: RedisServerOptions): Promise<RedisServer> {
  if (!redisInstalled) {
    throw new Error(
      `redis-server is not installed ("${BINARY}" not runnable): apt-get install -y redis-server`,
    );
  }
  const dir = await Deno.makeTempDir({ prefix: "concur-redis-" });
  const port = freePort();
  const args = [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--dir",
    dir,
    "--save",
    "",
    "--daemonize",
    "no",
    "--protected-mode",
    "no",
    "--loglevel",
    "warning",
    "--logfile",
    `${dir}/redis.log`,
    ...(options?.persistent
      ? ["--appendonly", "yes", "--appendfsync", "always"]
      : ["--appendonly", "no"]),
  ];
  let child: Deno.ChildProcess | undefined;
  let stopped = false;

  const launch = async (): Promise<void> => {
    child = new Deno.Command(BINARY, { args, stdin: "null", stdout: "null", stderr: "null" })
      .spawn();
    const end = performance.now() + 10_000;
    while (performance.now() < end) {
      if (await ping(port)) return;
      // Start-up wait only (the server is a separate process with no other
      // readiness signal): bounded by the 10 s above.
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await kill("SIGKILL");
    let log = "";
    try {
      log = await Deno.readTextFile(`${dir}/redis.log`);
    } catch { /* no log */ }
    throw new Error(`redis-server on port ${port} did not answer PING within 10 s\n${log}`);
  };

  const kill = async (signal: Deno.Signal): Promise<void> => {
    const current = child;
    if (!current) return;
    child = undefined;
    try {
      current.kill(signal);
    } catch { /* already exited */ }
    const timer = setTimeout(() => {
      try {
        current.kill("SIGKILL");
      } catch { /* gone */ }
    }, 5000);
    try {
      await current.status;
    } finally {
      clearTimeout(timer);
    }
  };

  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    get pid() {
      return child?.pid ?? -1;
    },
    crash: () => kill("SIGKILL"),
    restart: launch,
    async stop() {
      if (stopped) return;
      stopped = true;
      await kill("SIGTERM");
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * Registers a test that gets its own server (stopped in a `finally`) and
 * fails after `timeout` ms instead of hanging. Skipped (see above) only when
 * redis-server is missing outside CI.
 */
export function redisTest(
  name: string,
  fn: (server: RedisServer) => Promise<void>,
  options?: RedisServerOptions & { timeout?: number },
): void {
  Deno.test({
    name,
    ignore: skipRedis,
    async fn() {
      const server = await startRedis(options);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const limit = options?.timeout ?? 20_000;
      try {
        await Promise.race([
          fn(server),
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`test "${name}" timed out after ${limit} ms`)),
              limit,
            );
          }),
        ]);
      } finally {
        clearTimeout(timer);
        await server.stop();
      }
    },
  });
}
