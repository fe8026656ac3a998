/**
 * Redis tier against the raw ioredis client on the same private server:
 *
 * - latency: one put + one get of a JSON message from one client —
 *   `RedisQueue.putAsync` + `getAsync` vs raw `LPUSH` + `BRPOP`;
 * - a stream of 10,000 messages with producer and consumer running at the
 *   same time on separate connections: `putMany(100)` | `getMany(100)` vs
 *   raw pipelines of 100 LPUSH | 100 BRPOP (messages per second = 10,000 /
 *   time per iteration);
 * - batches of 100 and 1000 messages from one client: `putMany` +
 *   `getMany` vs a raw pipeline of LPUSHes + a pipeline of BRPOPs.
 *
 * Run: `deno bench -A bench/redis.bench.ts`. Starts its own redis-server
 * (see tests/redis/_server.ts) and skips with a message if it is missing.
 */

import { Redis } from "../redis/_ioredis.ts";
import { RedisQueue } from "../redis/queue.ts";
import { RedisJoinableQueue } from "../redis/joinable_queue.ts";
import { redisInstalled, startRedis } from "../tests/redis/_server.ts";

type Ticket = { id: number; name: string; ok: boolean };
const ticket = (id: number): Ticket => ({ id, name: "ticket", ok: true });

if (!redisInstalled) {
  console.warn(
    "SKIPPING bench/redis.bench.ts: redis-server is not installed (apt-get install -y redis-server)",
  );
} else {
  const server = await startRedis();
  const raw = new Redis(server.url);
  const queue = await RedisQueue.open<Ticket>(server.url, "bench");
  const joinable = await RedisJoinableQueue.open<Ticket>(server.url, "bench-joinable");
  globalThis.addEventListener("unload", () => {
    raw.disconnect();
    void queue.disconnect();
    void joinable.disconnect();
    try {
      Deno.kill(server.pid, "SIGTERM");
    } catch { /* already gone */ }
    try {
      Deno.removeSync(server.dir, { recursive: true });
    } catch { /* best effort */ }
  });

  let n = 0;
  Deno.bench({
    name: "raw ioredis LPUSH + BRPOP (json)",
    group: "redis put+get latency",
    baseline: true,
    async fn() {
      await raw.lpush("raw", JSON.stringify(ticket(n++)));
      const [, text] = (await raw.brpop("raw", 0))!;
      JSON.parse(text);
    },
  });
  Deno.bench({
    name: "RedisQueue putAsync + getAsync (json)",
    group: "redis put+get latency",
    async fn() {
      await queue.putAsync(ticket(n++));
      await queue.getAsync();
    },
  });
  Deno.bench({
    name: "RedisJoinableQueue putAsync + getAsync + taskDone (json)",
    group: "redis put+get latency",
    async fn() {
      await joinable.putAsync(ticket(n++));
      await joinable.getAsync();
      await joinable.taskDone();
    },
  });

  // Producer and consumer at the same time on separate connections (as in
  // the baseline's two-process figure), 10,000 messages in batches of 100.
  const STREAM = 10_000;
  const rawProducer = new Redis(server.url);
  const producer = await RedisQueue.open<Ticket>(server.url, "bench-stream");
  const consumer = await RedisQueue.open<Ticket>(server.url, "bench-stream");
  globalThis.addEventListener("unload", () => {
    rawProducer.disconnect();
    void producer.disconnect();
    void consumer.disconnect();
  });
  const hundred = Array.from({ length: 100 }, (_, i) => ticket(i));
  Deno.bench({
    name: "raw ioredis pipelined LPUSH x100 | BRPOP x100, concurrent (json)",
    group: "redis stream of 10k, producer and consumer concurrent",
    baseline: true,
    n: 20,
    warmup: 3,
    async fn() {
      const produce = (async () => {
        for (let sent = 0; sent < STREAM; sent += 100) {
          const put = rawProducer.pipeline();
          for (const item of hundred) put.lpush("raw-stream", JSON.stringify(item));
          await put.exec();
        }
      })();
      for (let got = 0; got < STREAM; got += 100) {
        const get = raw.pipeline();
        for (let i = 0; i < 100; i++) get.brpop("raw-stream", 0);
        for (const [, reply] of (await get.exec())!) JSON.parse((reply as [string, string])[1]);
      }
      await produce;
    },
  });
  Deno.bench({
    name: "RedisQueue putMany(100) | getMany(100), concurrent (json)",
    group: "redis stream of 10k, producer and consumer concurrent",
    n: 20,
    warmup: 3,
    async fn() {
      const produce = (async () => {
        for (let sent = 0; sent < STREAM; sent += 100) await producer.putMany(hundred);
      })();
      for (let got = 0; got < STREAM;) got += (await consumer.getMany(100)).length;
      await produce;
    },
  });

  for (const batch of [100, 1000]) {
    const items = Array.from({ length: batch }, (_, i) => ticket(i));
    Deno.bench({
      name: `raw ioredis pipelined ${batch} LPUSH + ${batch} BRPOP (json)`,
      group: `redis batch of ${batch}`,
      baseline: true,
      async fn() {
        const put = raw.pipeline();
        for (const item of items) put.lpush("raw", JSON.stringify(item));
        await put.exec();
        const get = raw.pipeline();
        for (let i = 0; i < batch; i++) get.brpop("raw", 0);
        for (const [, reply] of (await get.exec())!) JSON.parse((reply as [string, string])[1]);
      },
    });
    Deno.bench({
      name: `RedisQueue putMany(${batch}) + getMany(${batch}) (json)`,
      group: `redis batch of ${batch}`,
      async fn() {
        await queue.putMany(items);
        let got = 0;
        while (got < batch) got += (await queue.getMany(batch - got)).length;
      },
    });
  }
}
