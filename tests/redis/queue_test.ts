import assert from "node:assert/strict";
import { RedisQueue } from "../../redis/queue.ts";
import { RedisJoinableQueue } from "../../redis/joinable_queue.ts";
import {
  LayoutError,
  QueueClosedError,
  QueueEmptyError,
  QueueFullError,
} from "../../primitives/errors.ts";
import { redisTest } from "./_server.ts";
import { spawnWorker } from "./_child.ts";

redisTest("RedisQueue: FIFO, sizes, nowait forms and timeouts", async ({ url }) => {
  await using queue = await RedisQueue.open<number>(url, "basic", { capacity: 3 });
  assert.equal(queue.capacity, 3);
  assert.equal(await queue.empty(), true);
  await queue.putAsync(1);
  await queue.putNowait(2);
  await queue.putAsync(3, { timeout: -1 });
  assert.equal(await queue.qsize(), 3);
  assert.equal(await queue.full(), true);
  await assert.rejects(queue.putNowait(4), QueueFullError);
  const start = performance.now();
  await assert.rejects(queue.putAsync(4, { timeout: 100 }), QueueFullError);
  const waited = performance.now() - start;
  assert.ok(waited >= 95 && waited < 2000, `put timeout waited ${waited} ms`);
  assert.equal(await queue.qsize(), 3, "a failed put adds nothing");
  assert.deepEqual([await queue.getAsync(), await queue.getNowait()], [1, 2]);
  assert.deepEqual(await queue.getMany(10), [3]);
  await assert.rejects(queue.getNowait(), QueueEmptyError);
  const start2 = performance.now();
  await assert.rejects(queue.getAsync({ timeout: 100 }), QueueEmptyError);
  const waited2 = performance.now() - start2;
  assert.ok(waited2 >= 95 && waited2 < 2000, `get timeout waited ${waited2} ms`);
  assert.equal(await queue.qsize(), 0);
});

redisTest(
  "RedisQueue: a blocked put wakes when a get frees a slot, a blocked get when a put lands",
  async ({ url }) => {
    await using a = await RedisQueue.open<string>(url, "wake", { capacity: 1 });
    await using b = await RedisQueue.open<string>(url, "wake");
    await a.putAsync("first");
    const blockedPut = a.putAsync("second", { timeout: 5000 });
    assert.equal(await b.getAsync(), "first");
    await blockedPut;
    assert.equal(await b.getAsync(), "second");
    const blockedGet = b.getAsync({ timeout: 5000 });
    await a.putAsync("third");
    assert.equal(await blockedGet, "third");
  },
);

redisTest("RedisQueue: close() wakes blocked consumers after they drain", async ({ url }) => {
  await using producer = await RedisQueue.open<number>(url, "closing", { capacity: 2 });
  await using consumer = await RedisQueue.open<number>(url, "closing");
  const blocked = [consumer.getAsync(), consumer.getAsync(), consumer.getAsync()];
  await producer.putAsync(7);
  await producer.close();
  await producer.close(); // twice: no-op
  const results = await Promise.allSettled(blocked);
  const values = results.filter((r) => r.status === "fulfilled").map((r) => r.value);
  const errors = results.filter((r) => r.status === "rejected").map((r) => r.reason);
  assert.deepEqual(values, [7]);
  assert.equal(errors.length, 2);
  for (const err of errors) assert.ok(err instanceof QueueClosedError);
  await assert.rejects(producer.putAsync(8), QueueClosedError);
  await assert.rejects(consumer.getNowait(), QueueClosedError);
  assert.equal(await consumer.qsize(), 0);
  assert.equal(await consumer.closed(), true);
  // A producer blocked on a full queue is woken by close too.
  await using full = await RedisQueue.open<number>(url, "closing-full", { capacity: 1 });
  await full.putAsync(1);
  const blockedPut = full.putAsync(2);
  await full.close();
  await assert.rejects(blockedPut, QueueClosedError);
  assert.equal(await full.getAsync(), 1);
});

redisTest("RedisQueue: AbortSignal cancels blocked calls and loses nothing", async ({ url }) => {
  await using queue = await RedisQueue.open<number>(url, "abort", { capacity: 1 });
  const controller = new AbortController();
  const reason = new Error("stop");
  const blocked = queue.getAsync({ signal: controller.signal });
  setTimeout(() => controller.abort(reason), 30);
  await assert.rejects(blocked, (err) => err === reason);
  await queue.putAsync(1);
  const controller2 = new AbortController();
  const blockedPut = queue.putAsync(2, { signal: controller2.signal });
  setTimeout(() => controller2.abort(reason), 30);
  await assert.rejects(blockedPut, (err) => err === reason);
  assert.equal(await queue.getAsync({ timeout: 1000 }), 1);
  await assert.rejects(queue.getNowait(), QueueEmptyError, "the aborted put added nothing");
  await assert.rejects(queue.getAsync({ signal: AbortSignal.abort(reason) }), (e) => e === reason);
});

redisTest(
  "RedisQueue: putMany larger than the capacity keeps order with a concurrent getMany",
  async ({ url }) => {
    await using producer = await RedisQueue.open<number>(url, "batches", { capacity: 64 });
    await using consumer = await RedisQueue.open<number>(url, "batches");
    const items = Array.from({ length: 5000 }, (_, i) => i);
    const put = producer.putMany(items, { timeout: 10_000 });
    const got: number[] = [];
    while (got.length < items.length) got.push(...await consumer.getMany(100, { timeout: 5000 }));
    await put;
    assert.deepEqual(got, items);
  },
);

redisTest("RedisQueue: bad input gets a typed error and loses nothing", async ({ url }) => {
  await assert.rejects(RedisQueue.open(url, "neg", { capacity: -1 }), RangeError);
  await assert.rejects(RedisQueue.open(url, "frac", { capacity: 1.5 }), RangeError);
  await assert.rejects(RedisQueue.open(url, "a{b}"), TypeError);
  await assert.rejects(RedisQueue.open(url, ""), TypeError);
  await assert.rejects(RedisQueue.open(url, "x", { codec: "nope" as never }), TypeError);
  await using queue = await RedisQueue.open<unknown>(url, "typed", { capacity: 2 });
  await assert.rejects(queue.putAsync(undefined), TypeError);
  await assert.rejects(queue.putMany([1, undefined]), TypeError);
  assert.equal(await queue.qsize(), 0);
  await assert.rejects(queue.getMany(0), RangeError);
  await assert.rejects(RedisQueue.open(url, "typed", { capacity: 3 }), LayoutError);
  await assert.rejects(RedisJoinableQueue.open(url, "typed"), LayoutError);
  await using same = await RedisQueue.open(url, "typed");
  assert.equal(same.capacity, 2, "capacity adopted from Redis");
  // putMany's error says how many items were put before it failed.
  await using small = await RedisQueue.open<number>(url, "partial", { capacity: 2 });
  await assert.rejects(
    small.putMany([1, 2, 3], { timeout: 20 }),
    (err: Error) => err instanceof QueueFullError && err.cause === 2,
  );
  const drained: number[] = [];
  await small.close();
  for await (const n of small) drained.push(n);
  assert.deepEqual(drained, [1, 2], "for await ends when closed and drained");
  await using strings = await RedisQueue.open<string>(url, "strings", { codec: "string" });
  await assert.rejects(strings.putAsync(5 as never), TypeError);
  await strings.putAsync("");
  assert.equal(await strings.getAsync(), "");
});

redisTest(
  "RedisQueue: 2 producer and 2 consumer processes: no loss, no duplicate, FIFO per producer",
  async ({ url }) => {
    const count = 3000;
    await using queue = await RedisQueue.open<[number, number]>(url, "mp", { capacity: 100 });
    const consumers = [spawnWorker("consume", url, "mp"), spawnWorker("consume", url, "mp")];
    const producers = [
      spawnWorker("produce", url, "mp", 0, count, 1),
      spawnWorker("produce", url, "mp", 1, count, 50),
    ];
    for (const p of producers) assert.deepEqual((await p.finish()).lines, [{ done: count }]);
    await queue.close();
    const seen = [new Set<number>(), new Set<number>()];
    let total = 0;
    for (const c of consumers) {
      const { lines } = await c.finish();
      const got = lines[0].got as [number, number][];
      const last = [-1, -1];
      for (const [producer, i] of got) {
        assert.ok(i > last[producer], `FIFO per producer broken: ${i} after ${last[producer]}`);
        last[producer] = i;
        assert.ok(!seen[producer].has(i), `duplicate ${producer}/${i}`);
        seen[producer].add(i);
        total++;
      }
    }
    assert.equal(total, 2 * count);
    assert.equal(seen[0].size + seen[1].size, 2 * count);
  },
  { timeout: 45_000 },
);
