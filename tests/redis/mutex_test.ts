import assert from "node:assert/strict";
import { RedisMutex } from "../../redis/mutex.ts";
import { Redis } from "../../redis/_ioredis.ts";
import { LockNotHeldError, NotOwnerError, TimeoutError } from "../../primitives/errors.ts";
import { redisTest } from "./_server.ts";
import { spawnWorker } from "./_child.ts";

redisTest("RedisMutex: owner-only release, fencing tokens, timeouts, abort", async ({ url }) => {
  await using a = await RedisMutex.open(url, "m", { lease: 2000 });
  await using b = await RedisMutex.open(url, "m", { lease: 2000 });
  assert.equal(await a.locked(), false);
  await assert.rejects(a.unlock(), LockNotHeldError);
  assert.equal(await a.tryLock(), true);
  const first = a.fencingToken!;
  assert.equal(a.ownerDied, false);
  assert.equal(await a.locked(), true);
  assert.equal(await a.heldByThisHandle(), true);
  assert.equal(await b.heldByThisHandle(), false);
  assert.equal(await b.tryLock(), false);
  await assert.rejects(b.unlock(), LockNotHeldError, "only the owner can release");
  assert.equal(await a.locked(), true, "the failed unlock changed nothing");
  const start = performance.now();
  assert.equal(await b.lockAsync({ timeout: 100 }), false);
  assert.ok(performance.now() - start >= 95);
  await assert.rejects(b.acquireAsync({ timeout: 0 }), TimeoutError);
  const controller = new AbortController();
  const reason = new Error("cancelled");
  const aborted = b.lockAsync({ signal: controller.signal });
  setTimeout(() => controller.abort(reason), 20);
  await assert.rejects(aborted, (e) => e === reason);
  // A waiter is woken by the release and gets a larger fencing token.
  const waiting = b.lockAsync({ timeout: 5000 });
  await a.unlock();
  assert.equal(await waiting, true);
  assert.ok(b.fencingToken! > first);
  await b.unlock();
  assert.equal(await a.withLockAsync(() => "inside"), "inside");
  assert.equal(await a.locked(), false);
  {
    await using guard = await a.acquireAsync();
    assert.ok(guard.fencingToken > b.fencingToken!);
    assert.equal(guard.ownerDied, false);
    assert.equal(guard.signal.aborted, false);
  }
  assert.equal(await a.locked(), false);
  await assert.rejects(RedisMutex.open(url, "m", { lease: 5 }), RangeError);
});

redisTest(
  "RedisMutex: a holder whose lease lapses loses the lock, is told, and cannot release",
  async ({ url }) => {
    await using slow = await RedisMutex.open(url, "stall", { lease: 60 });
    await using next = await RedisMutex.open(url, "stall", { lease: 1000 });
    const guard = await slow.acquireAsync();
    // Freeze this event loop (no renewal) past the lease: like a stalled holder.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    assert.equal(await next.lockAsync({ timeout: 1000 }), true);
    assert.equal(next.ownerDied, true);
    assert.ok(next.fencingToken! > guard.fencingToken);
    await assert.rejects(slow.unlock(), NotOwnerError);
    assert.equal(guard.signal.aborted, true);
    await guard.release(); // the guard's release after the loss does nothing
    assert.equal(await next.heldByThisHandle(), true);
    await next.unlock();
  },
);

redisTest(
  "RedisMutex: 3 processes increment a plain counter under the lock with increasing fences",
  async ({ url }) => {
    const n = 40;
    const workers = [0, 1, 2].map(() => spawnWorker("count-under-lock", url, "shared", n, 5000));
    const fences: number[] = [];
    for (const w of workers) fences.push(...((await w.finish()).lines[0].fences as number[]));
    const raw = new Redis(url);
    try {
      assert.equal(Number(await raw.get("shared:counter")), 3 * n);
    } finally {
      raw.disconnect();
    }
    assert.equal(new Set(fences).size, 3 * n, "every acquisition has its own fencing token");
  },
  { timeout: 45_000 },
);

redisTest(
  "RedisMutex: a holder killed mid-section loses the lock after its lease; the next owner is told",
  async ({ url }) => {
    const lease = 500;
    await using mutex = await RedisMutex.open(url, "crash", { lease: 5000 });
    const holder = spawnWorker("hold-lock", url, "crash", lease);
    const { fence } = await holder.next() as { fence: number };
    // While the holder lives, renewal keeps it: a wait longer than the lease fails.
    assert.equal(await mutex.lockAsync({ timeout: 2 * lease }), false);
    const killedAt = performance.now();
    await holder.kill();
    assert.equal(await mutex.lockAsync({ timeout: 5 * lease }), true);
    const after = performance.now() - killedAt;
    assert.ok(after <= 2 * lease, `took over ${after} ms after the kill`);
    assert.equal(mutex.ownerDied, true);
    assert.ok(mutex.fencingToken! > fence);
    await mutex.unlock();
    // Sticky until repaired (robust-mutex protocol), then clean.
    assert.equal(await mutex.lockAsync({ timeout: 0 }), true);
    assert.equal(mutex.ownerDied, true, "still flagged: nobody repaired");
    await mutex.markConsistent();
    assert.equal(mutex.ownerDied, false);
    await mutex.unlock();
    await assert.rejects(mutex.markConsistent(), NotOwnerError);
    assert.equal(await mutex.lockAsync({ timeout: 0 }), true);
    assert.equal(mutex.ownerDied, false, "a clean release is not a death");
    await mutex.unlock();
  },
  { timeout: 30_000 },
);
