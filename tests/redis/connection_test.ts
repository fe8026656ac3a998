import assert from "node:assert/strict";
import { RedisQueue } from "../../redis/queue.ts";
import { RedisMutex } from "../../redis/mutex.ts";
import { RedisSemaphore } from "../../redis/semaphore.ts";
import { RedisJoinableQueue } from "../../redis/joinable_queue.ts";
import { RedisConnectionError } from "../../redis/errors.ts";
import { ClosedError } from "../../primitives/errors.ts";
import { redisTest, skipRedis } from "./_server.ts";

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function elapsed<T>(promise: Promise<T>): Promise<[T | unknown, number]> {
  const start = performance.now();
  try {
    return [await promise, performance.now() - start];
  } catch (err) {
    return [err, performance.now() - start];
  }
}

Deno.test("Redis: connection refused is a RedisConnectionError, quickly", async () => {
  const url = `redis://127.0.0.1:${freePort()}`;
  for (
    const open of <(() => Promise<unknown>)[]> [
      () => RedisQueue.open(url, "q", { connectTimeout: 2000 }),
      () => RedisJoinableQueue.open(url, "q", { connectTimeout: 2000 }),
      () => RedisMutex.open(url, "m", { connectTimeout: 2000 }),
      () => RedisSemaphore.open(url, "s", { connectTimeout: 2000 }),
    ]
  ) {
    const [err, ms] = await elapsed<unknown>(open());
    assert.ok(err instanceof RedisConnectionError, `got ${err}`);
    assert.match((err as Error).message, /ECONNREFUSED|refused/i);
    assert.match((err as Error).message, new RegExp(url.replace(/[.]/g, "\\.")));
    assert.ok(ms < 2500, `took ${ms} ms`);
  }
});

Deno.test("Redis: malformed URLs and names are TypeErrors before any connection", async () => {
  for (const url of ["not a url", "http://127.0.0.1:6379", "redis://", ""]) {
    await assert.rejects(RedisQueue.open(url, "q"), TypeError, url);
  }
  await assert.rejects(RedisMutex.open("redis://127.0.0.1:1", "a}b"), TypeError);
  await assert.rejects(
    RedisQueue.open("redis://127.0.0.1:1", "q", { connectTimeout: -5 }),
    RangeError,
  );
});

Deno.test("Redis: an unknown host fails within connectTimeout", async () => {
  const [err, ms] = await elapsed(
    RedisQueue.open("redis://no-such-host.invalid:6379", "q", { connectTimeout: 1500 }),
  );
  assert.ok(err instanceof RedisConnectionError, `got ${err}`);
  assert.ok(ms < 3000, `took ${ms} ms`);
});

Deno.test({
  name: "Redis: a server that accepts but never answers fails within connectTimeout",
  async fn() {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    const accepted: Deno.Conn[] = [];
    const accepting = (async () => {
      for await (const conn of listener) accepted.push(conn);
    })();
    try {
      const [err, ms] = await elapsed(
        RedisQueue.open(`redis://127.0.0.1:${port}`, "q", { connectTimeout: 500 }),
      );
      assert.ok(err instanceof RedisConnectionError, `got ${err}`);
      assert.match((err as Error).message, /connectTimeout|timed out/);
      assert.ok(ms < 2000, `took ${ms} ms`);
    } finally {
      listener.close();
      await accepting.catch(() => {});
      for (const conn of accepted) conn.close();
    }
  },
});

redisTest(
  "Redis: a lost server fails blocked and later calls with RedisConnectionError (bounded)",
  async (server) => {
    const reconnectTimeout = 1000;
    const queue = await RedisQueue.open<number>(server.url, "lost", { reconnectTimeout });
    const mutex = await RedisMutex.open(server.url, "lost", { reconnectTimeout });
    try {
      await mutex.lockAsync();
      // Whether or not the getter is blocked in Redis yet when the server
      // dies, it must fail clearly and in bounded time.
      const blocked = elapsed(queue.getAsync({ timeout: 60_000 }));
      await queue.qsize();
      await server.crash();
      const [err, ms] = await blocked;
      assert.ok(err instanceof RedisConnectionError, `got ${err}`);
      assert.ok(ms < reconnectTimeout + 3000, `took ${ms} ms`);
      const [err3, ms3] = await elapsed(queue.putAsync(3));
      assert.ok(err3 instanceof RedisConnectionError, `got ${err3}`);
      assert.ok(ms3 < reconnectTimeout + 3000, `took ${ms3} ms`);
      const [err4] = await elapsed(mutex.unlock());
      assert.ok(err4 instanceof RedisConnectionError, `got ${err4}`);
    } finally {
      await queue.disconnect();
      await mutex.disconnect();
    }
    await assert.rejects(queue.putAsync(4), ClosedError, "a disconnected handle says so");
  },
  { timeout: 20_000 },
);

if (skipRedis) console.warn("(connection tests that need no server still ran)");
