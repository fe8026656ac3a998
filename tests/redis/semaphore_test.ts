import assert from "node:assert/strict";
import { RedisSemaphore } from "../../redis/semaphore.ts";
import { Redis } from "../../redis/_ioredis.ts";
import { LayoutError, SemaphoreOverflowError, TimeoutError } from "../../primitives/errors.ts";
import { redisTest } from "./_server.ts";
import { spawnWorker } from "./_child.ts";

redisTest("RedisSemaphore: counting, growth, bound, guards, timeouts", async ({ url }) => {
  await using sem = await RedisSemaphore.open(url, "s", { value: 2 });
  await using other = await RedisSemaphore.open(url, "s");
  assert.equal(other.initialValue, 2);
  assert.equal(await sem.value(), 2);
  assert.equal(await sem.tryAcquire(), true);
  assert.equal(await other.acquireAsync({ timeout: 100 }), true);
  assert.equal(await sem.value(), 0);
  assert.equal(await sem.tryAcquire(), false);
  const start = performance.now();
  assert.equal(await sem.acquireAsync({ timeout: 100 }), false);
  assert.ok(performance.now() - start >= 95);
  const waiting = sem.acquireAsync({ timeout: 5000 });
  await other.release();
  assert.equal(await waiting, true);
  assert.equal(sem.held, 2);
  await sem.release(2);
  assert.equal(await sem.value(), 2);
  await sem.release(); // unbounded: grows past the initial value (Python's Semaphore)
  assert.equal(await sem.value(), 3);
  await assert.rejects(sem.release(0), RangeError);
  {
    await using _permit = await sem.guardAsync();
    assert.equal(await sem.value(), 2);
  }
  assert.equal(await sem.value(), 3);
  assert.equal(await sem.withPermitAsync(() => 5), 5);
  await using zero = await RedisSemaphore.open(url, "zero", { value: 0 });
  await assert.rejects(zero.guardAsync({ timeout: 10 }), TimeoutError);
  const reason = new Error("stop");
  await assert.rejects(
    zero.acquireAsync({ signal: AbortSignal.abort(reason) }),
    (e) => e === reason,
  );

  await using bounded = await RedisSemaphore.open(url, "b", { value: 1, bounded: true });
  await assert.rejects(bounded.release(), SemaphoreOverflowError);
  assert.equal(await bounded.value(), 1, "a failed release changes nothing");
  await bounded.acquireAsync();
  await assert.rejects(bounded.release(2), SemaphoreOverflowError);
  assert.equal(await bounded.value(), 0);
  await bounded.release();
  assert.equal(await bounded.value(), 1);

  await assert.rejects(RedisSemaphore.open(url, "s", { value: 3 }), LayoutError);
  await assert.rejects(RedisSemaphore.open(url, "b", { bounded: false }), LayoutError);
  await assert.rejects(RedisSemaphore.open(url, "neg", { value: -1 }), RangeError);
  await assert.rejects(RedisSemaphore.open(url, "frac", { value: 0.5 }), RangeError);
});

redisTest("RedisSemaphore(2): 4 processes never have more than 2 inside", async ({ url }) => {
  await using sem = await RedisSemaphore.open(url, "gate", { value: 2 });
  const rounds = 15;
  const workers = [0, 1, 2, 3].map(() => spawnWorker("sem-worker", url, "gate", rounds));
  let maxInside = 0;
  for (const w of workers) {
    maxInside = Math.max(maxInside, (await w.finish()).lines[0].maxInside as number);
  }
  const raw = new Redis(url);
  try {
    assert.equal(Number(await raw.get("gate:entries")), 4 * rounds);
  } finally {
    raw.disconnect();
  }
  assert.ok(maxInside <= 2 && maxInside >= 1, `max inside ${maxInside}`);
  assert.equal(await sem.value(), 2);
}, { timeout: 45_000 });

redisTest("RedisSemaphore: a dead holder's permits come back after its lease", async ({ url }) => {
  const lease = 500;
  await using sem = await RedisSemaphore.open(url, "dead", { value: 2 });
  const holder = spawnWorker("hold-permits", url, "dead", 2, lease);
  assert.deepEqual(await holder.next(), { held: 2 });
  assert.equal(await sem.acquireAsync({ timeout: 2 * lease }), false, "renewed while alive");
  await holder.kill();
  assert.equal(await sem.acquireAsync({ timeout: 5 * lease }), true);
  assert.equal(sem.reclaimed, 2);
  assert.equal(await sem.value(), 1);
  await sem.release();
}, { timeout: 30_000 });
