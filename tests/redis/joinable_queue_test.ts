import assert from "node:assert/strict";
import { RedisJoinableQueue } from "../../redis/joinable_queue.ts";
import { RedisConnectionError } from "../../redis/errors.ts";
import { TaskDoneError } from "../../primitives/errors.ts";
import { redisTest } from "./_server.ts";
import { spawnWorker } from "./_child.ts";

redisTest("RedisJoinableQueue: taskDone, join, too many taskDone", async ({ url }) => {
  await using producer = await RedisJoinableQueue.open<number>(url, "jobs");
  await using worker = await RedisJoinableQueue.open<number>(url, "jobs");
  assert.equal(await producer.joinAsync({ timeout: 0 }), true); // nothing unfinished
  await assert.rejects(worker.taskDone(), TaskDoneError);
  await producer.putMany([1, 2, 3]);
  assert.equal(await producer.unfinishedTasks(), 3);
  assert.equal(await producer.joinAsync({ timeout: 50 }), false);
  const joined = producer.joinAsync({ timeout: 5000 });
  const got: number[] = [];
  for (let i = 0; i < 3; i++) {
    got.push(await worker.getAsync());
    assert.equal(worker.outstanding, 1);
    await worker.taskDone();
  }
  assert.equal(await joined, true);
  assert.deepEqual(got, [1, 2, 3]);
  assert.equal(await producer.unfinishedTasks(), 0);
  await assert.rejects(worker.taskDone(), TaskDoneError);
  // taskDone acknowledges this handle's oldest item.
  await producer.putMany([4, 5]);
  assert.deepEqual(await worker.getMany(2), [4, 5]);
  assert.equal(worker.outstanding, 2);
  await worker.taskDone();
  assert.equal(await producer.unfinishedTasks(), 1);
  await worker.taskDone();
  assert.equal(await producer.joinAsync({ timeout: 1000 }), true);
});

redisTest(
  "RedisJoinableQueue: a consumer killed before taskDone has its item redelivered",
  async ({ url }) => {
    const visibility = 600;
    await using queue = await RedisJoinableQueue.open<string>(url, "crash", {
      visibilityTimeout: visibility,
    });
    await queue.putMany(["job-1", "job-2"]);
    const doomed = spawnWorker("take-and-hang", url, "crash", visibility);
    assert.deepEqual(await doomed.next(), { item: "job-1" });
    // While the holder lives its lease is renewed: the item is not redelivered.
    assert.equal(await queue.getAsync({ timeout: 2 * visibility }), "job-2");
    await queue.taskDone();
    await assert.rejects(queue.getAsync({ timeout: visibility }), Error);
    const killedAt = performance.now();
    await doomed.kill();
    const again = await queue.getAsync({ timeout: 5 * visibility });
    const after = performance.now() - killedAt;
    assert.equal(again, "job-1");
    assert.ok(after < 5 * visibility, `redelivered after ${after} ms`);
    await queue.taskDone();
    assert.equal(await queue.joinAsync({ timeout: 1000 }), true);
    assert.equal(await queue.qsize(), 0);
  },
  { timeout: 30_000 },
);

redisTest(
  "RedisJoinableQueue: closed queue waits for outstanding leases before reporting drained",
  async ({ url }) => {
    const visibility = 300;
    await using queue = await RedisJoinableQueue.open<number>(url, "drain", {
      visibilityTimeout: visibility,
    });
    await queue.putAsync(42);
    const doomed = spawnWorker("take-and-hang", url, "drain", visibility);
    assert.deepEqual(await doomed.next(), { item: 42 });
    await queue.close();
    await doomed.kill();
    // The only item is leased to a dead consumer: get must not say "drained"
    // but wait for the redelivery.
    assert.equal(await queue.getAsync({ timeout: 10 * visibility }), 42);
    await queue.taskDone();
    await assert.rejects(
      queue.getAsync({ timeout: 100 }),
      (e: Error) => e.name === "QueueClosedError",
    );
    assert.equal(await queue.joinAsync({ timeout: 100 }), true);
  },
  { timeout: 30_000 },
);

redisTest(
  "RedisJoinableQueue: a Redis crash and restart (appendfsync always) loses no acknowledged put",
  async (server) => {
    const queue = await RedisJoinableQueue.open<number>(server.url, "durable", {
      reconnectTimeout: 8000,
    });
    const acked: number[] = [];
    let failed = 0;
    let crashed = false;
    let restarted: Promise<void> | undefined;
    // 4 producers keep puts in flight while the server is killed (SIGKILL)
    // and restarted from its append-only file.
    const produce = async (p: number): Promise<void> => {
      for (let k = 0; k < 150; k++) {
        const i = p * 1000 + k;
        if (acked.length >= 200 && !crashed) {
          crashed = true;
          restarted = server.crash()
            .then(() => new Promise((resolve) => setTimeout(resolve, 300)))
            .then(() => server.restart());
        }
        try {
          await queue.putAsync(i);
          acked.push(i);
        } catch (err) {
          assert.ok(err instanceof RedisConnectionError, `unexpected ${err}`);
          failed++;
        }
      }
    };
    try {
      await Promise.all([0, 1, 2, 3].map(produce));
      await restarted;
    } finally {
      await queue.disconnect();
    }
    assert.ok(crashed);
    console.log(
      `restart test: ${acked.length} puts acknowledged, ${failed} failed with RedisConnectionError`,
    );
    await using reader = await RedisJoinableQueue.open<number>(server.url, "durable");
    const stored: number[] = [];
    while (stored.length < 1000) {
      const batch = await reader.getMany(1000, { timeout: 0 }).catch(() => []);
      if (batch.length === 0) break;
      stored.push(...batch);
    }
    const storedSet = new Set(stored);
    for (const i of acked) assert.ok(storedSet.has(i), `acknowledged put ${i} was lost`);
    assert.equal(stored.length, storedSet.size, "no duplicates");
    assert.ok(stored.length <= acked.length + failed);
    assert.ok(acked.length >= 500, `only ${acked.length} puts acknowledged (${failed} failed)`);
    assert.equal(await reader.unfinishedTasks(), stored.length);
  },
  { persistent: true, timeout: 40_000 },
);

redisTest("RedisJoinableQueue: joinAsync and getAsync honour AbortSignal", async ({ url }) => {
  await using queue = await RedisJoinableQueue.open<number>(url, "abortable");
  await queue.putAsync(1);
  const reason = new Error("enough");
  const controller = new AbortController();
  const joining = queue.joinAsync({ signal: controller.signal });
  setTimeout(() => controller.abort(reason), 20);
  await assert.rejects(joining, (e) => e === reason);
  assert.equal(await queue.getAsync(), 1);
  const controller2 = new AbortController();
  const getting = queue.getAsync({ signal: controller2.signal });
  setTimeout(() => controller2.abort(reason), 20);
  await assert.rejects(getting, (e) => e === reason);
  await queue.taskDone();
  assert.equal(await queue.joinAsync({ timeout: 1000 }), true);
});
