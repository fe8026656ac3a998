import assert from "node:assert/strict";
import { LayoutError, SemaphoreOverflowError, TimeoutError } from "../primitives/errors.ts";
import { Mutex, type MutexHandle } from "../primitives/mutex.ts";
import { Semaphore, type SemaphoreHandle } from "../primitives/semaphore.ts";
import { timed, WorkerGroup } from "./_helpers.ts";
import { until } from "./_poll.ts";

const TASKS = new URL("./_tasks/semaphore_tasks.ts", import.meta.url);

Deno.test("Semaphore(2) admits two, then tryAcquire fails; release adds one each (SM-1)", () => {
  const sem = new Semaphore(2);
  assert.equal(sem.acquire(), true);
  assert.equal(sem.acquire(), true);
  assert.equal(sem.tryAcquire(), false);
  assert.equal(sem.acquire({ timeout: 0 }), false);
  assert.equal(sem.value, 0);
  sem.release();
  assert.equal(sem.value, 1);
  sem.release();
  assert.equal(sem.value, 2);
});

Deno.test("Semaphore() defaults to 1 (SM-2)", () => {
  const sem = new Semaphore();
  assert.equal(sem.value, 1);
  assert.equal(sem.tryAcquire(), true);
  assert.equal(sem.acquire({ timeout: 10 }), false);
  assert.equal(sem.bounded, false);
});

Deno.test("Semaphore rejects bad initial values with RangeError (SM-3)", () => {
  for (const bad of [-1, 1.5, NaN, Infinity, 2 ** 31]) {
    assert.throws(() => new Semaphore(bad), RangeError, `Semaphore(${bad})`);
  }
  assert.equal(new Semaphore(0).value, 0);
  assert.equal(new Semaphore(2 ** 31 - 1).value, 2 ** 31 - 1);
});

Deno.test("unbounded Semaphore grows past its initial value (SM-4)", () => {
  const sem = new Semaphore(2);
  sem.release();
  sem.release();
  assert.equal(sem.value, 4);
  const top = new Semaphore(2 ** 31 - 1);
  assert.throws(() => top.release(), SemaphoreOverflowError);
  assert.equal(top.value, 2 ** 31 - 1);
});

Deno.test("Semaphore timeouts return false within bounds, never early (SM-5, X-2, X-3)", async () => {
  const sem = new Semaphore(0);
  const [got, ms] = await timed(() => sem.acquire({ timeout: 50 }));
  assert.equal(got, false);
  assert.ok(ms >= 49 && ms < 1000, `acquire({timeout: 50}) took ${ms} ms`);
  const [got0, ms0] = await timed(() => sem.acquire({ timeout: -5 }));
  assert.equal(got0, false);
  assert.ok(ms0 < 20, `negative timeout polls once (${ms0} ms)`);
  const [gotA, msA] = await timed(() => sem.acquireAsync({ timeout: 40 }));
  assert.equal(gotA, false);
  assert.ok(msA >= 39 && msA < 1000, `acquireAsync({timeout: 40}) took ${msA} ms`);
  assert.equal(sem.value, 0, "timed-out waits change nothing");
  sem.release();
  const [gotFree, msFree] = await timed(() => sem.acquire({ timeout: 5000 }));
  assert.equal(gotFree, true);
  assert.ok(msFree < 100, "a free semaphore does not wait for the timeout");
});

Deno.test("Semaphore.release(n) adds n; n < 1 or non-integer is a RangeError (SM-7)", () => {
  const sem = new Semaphore(0);
  sem.release(3);
  assert.equal(sem.value, 3);
  for (const bad of [0, -1, 1.5, NaN]) {
    assert.throws(() => sem.release(bad), RangeError, `release(${bad})`);
  }
  assert.equal(sem.value, 3, "a refused release changes nothing");
});

Deno.test("bounded Semaphore refuses to exceed its initial value; the value is unchanged (BS-1, BS-2)", () => {
  const fresh = new Semaphore(1, { bounded: true });
  assert.throws(() => fresh.release(), SemaphoreOverflowError);
  assert.equal(fresh.value, 1);
  const sem = new Semaphore(2, { bounded: true });
  assert.equal(sem.bounded, true);
  sem.acquire();
  assert.throws(() => sem.release(2), SemaphoreOverflowError);
  assert.equal(sem.value, 1);
  sem.release();
  assert.equal(sem.value, 2);
  assert.throws(() => sem.release(), SemaphoreOverflowError);
  assert.equal(sem.value, 2);
  const revived = Semaphore.from(sem.handle);
  assert.equal(revived.bounded, true, "the bound travels with the handle");
  assert.throws(() => revived.release(), SemaphoreOverflowError);
});

Deno.test("Semaphore guards and withPermit release on every exit path", async () => {
  const sem = new Semaphore(1);
  {
    using _g = sem.guard();
    assert.equal(sem.value, 0);
  }
  assert.equal(sem.value, 1);
  assert.throws(() =>
    sem.withPermit(() => {
      throw new Error("boom");
    }), /boom/);
  assert.equal(sem.value, 1);
  await assert.rejects(
    sem.withPermitAsync(async () => {
      await Promise.resolve();
      throw new Error("async boom");
    }),
    /async boom/,
  );
  assert.equal(sem.value, 1);
  assert.equal(await sem.withPermitAsync(() => 7), 7);
  sem.acquire();
  assert.throws(() => sem.guard({ timeout: 5 }), TimeoutError);
  await assert.rejects(sem.guardAsync({ timeout: 5 }), TimeoutError);
  assert.throws(() => sem.withPermit(() => 1, { timeout: 0 }), TimeoutError);
  sem.release();
  const g = await sem.guardAsync();
  g.release();
  g.release(); // once only
  assert.equal(sem.value, 1);
});

Deno.test("Semaphore.acquireAsync honours an AbortSignal and steals no permit", async () => {
  const sem = new Semaphore(0);
  const controller = new AbortController();
  const pending = sem.acquireAsync({ signal: controller.signal });
  controller.abort(new Error("stop"));
  await assert.rejects(pending, /stop/);
  await assert.rejects(
    sem.acquireAsync({ signal: AbortSignal.abort(new Error("already")) }),
    /already/,
  );
  assert.equal(sem.value, 0);
  const waiter = sem.acquireAsync({ timeout: 2000 });
  sem.release();
  assert.equal(await waiter, true, "a live waiter gets the permit");
  assert.equal(sem.value, 0);
});

Deno.test("Semaphore.from rejects handles of other kinds and corrupt parameters", () => {
  assert.throws(
    () => Semaphore.from(new Mutex().handle as unknown as SemaphoreHandle),
    (e: unknown) => e instanceof LayoutError && e.problem === "wrong-kind",
  );
  assert.throws(
    () => Mutex.from(new Semaphore().handle as unknown as MutexHandle),
    LayoutError,
  );
  assert.throws(() => Semaphore.from(null as unknown as SemaphoreHandle), LayoutError);
  const sem = new Semaphore(3, { bounded: true });
  const buffer = sem.handle.memory.buffer!;
  new Int32Array(buffer)[5] = 7; // bounded flag must be 0 or 1
  assert.throws(
    () => Semaphore.from(sem.handle),
    (e: unknown) => e instanceof LayoutError && e.problem === "bad-parameters",
  );
});

Deno.test({
  name: "Semaphore(3) never lets more than 3 of 6 workers inside",
  timeout: 60_000,
  async fn() {
    using group = new WorkerGroup();
    const sem = new Semaphore(3);
    const stats = new Int32Array(new SharedArrayBuffer(12));
    const start = new Int32Array(new SharedArrayBuffer(4));
    const workers = 6;
    const iterations = 2_000;
    await Promise.all(
      Array.from(
        { length: workers },
        () =>
          group.run(TASKS, "insideCriticalSection", sem.handle, stats, iterations, start, workers),
      ),
    );
    assert.equal(stats[2], workers * iterations, "every entry counted");
    assert.equal(stats[0], 0, "everyone left");
    assert.ok(stats[1] <= 3, `at most 3 inside at once, saw ${stats[1]}`);
    assert.ok(stats[1] >= 1);
    assert.equal(sem.value, 3, "every permit came back");
    console.log(`max inside: ${stats[1]}`);
  },
});

Deno.test({
  name: "Semaphore: k releases let exactly k blocked workers through (SM-6)",
  timeout: 60_000,
  async fn() {
    using group = new WorkerGroup();
    const sem = new Semaphore(4);
    sem.acquire(); // one slot taken: 3 left
    const count = new Int32Array(new SharedArrayBuffer(4));
    const done = Array.from(
      { length: 5 },
      () => group.run(TASKS, "acquireCounting", sem.handle, count, 2),
    );
    await until(() => Atomics.load(count, 0) === 3, "3 acquisitions");
    assert.equal(sem.value, 0, "no permit left: nobody else can pass");
    sem.release(4);
    await until(() => Atomics.load(count, 0) === 7, "7 acquisitions");
    assert.equal(sem.value, 0);
    for (let i = 0; i < 2; i++) sem.release();
    await until(() => Atomics.load(count, 0) === 9, "9 acquisitions");
    assert.equal(sem.value, 0);
    assert.equal(sem.tryAcquire(), false);
    sem.release();
    await Promise.all(done);
    assert.equal(count[0], 10);
    assert.equal(sem.value, 0);
  },
});

Deno.test({
  name: "Semaphore: concurrent tryAcquire from workers takes exactly the permits there are (SM-6)",
  timeout: 30_000,
  async fn() {
    using group = new WorkerGroup();
    const sem = new Semaphore(4);
    sem.acquire();
    const results = await Promise.all(
      Array.from({ length: 5 }, () => group.run<number>(TASKS, "tryAcquireMany", sem.handle, 2)),
    );
    assert.equal(results.reduce((a, b) => a + b, 0), 3);
    assert.equal(sem.value, 0);
  },
});

Deno.test({
  name: "Semaphore: acquireAsync on the main thread while a worker holds the permits",
  timeout: 30_000,
  async fn() {
    using group = new WorkerGroup();
    const sem = new Semaphore(2);
    const flag = new Int32Array(new SharedArrayBuffer(8));
    const held = group.run(TASKS, "holdPermits", sem.handle, flag, 2, 100);
    await Atomics.waitAsync(flag, 0, 0, 10_000).value;
    assert.equal(sem.tryAcquire(), false);
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 5);
    try {
      const [got, ms] = await timed(() => sem.acquireAsync({ timeout: 10_000 }));
      assert.equal(got, true);
      assert.ok(ms > 20, `waited for the holder (${ms} ms)`);
      assert.ok(ticks > 2, `the event loop kept running (${ticks} ticks)`);
    } finally {
      clearInterval(ticker);
    }
    await held;
    assert.equal(sem.value, 1);
    // A worker times out on the permit the main thread... and another's.
    sem.acquire();
    const [got, elapsed] = await group.run<[boolean, number]>(
      TASKS,
      "acquireWithTimeout",
      sem.handle,
      50,
    );
    assert.equal(got, false);
    assert.ok(elapsed >= 49 && elapsed < 1000, `worker timeout took ${elapsed} ms`);
    // Any thread may release (no ownership).
    await group.run(TASKS, "releaseFromHere", sem.handle, 2);
    assert.equal(sem.value, 2);
  },
});

Deno.test({
  name: "Semaphore: a release from a worker wakes a blocked main-thread acquireAsync",
  timeout: 30_000,
  async fn() {
    using group = new WorkerGroup();
    const sem = new Semaphore(0);
    const waiting = sem.acquireAsync({ timeout: 10_000 });
    await group.run(TASKS, "releaseFromHere", sem.handle, 1);
    assert.equal(await waiting, true);
    assert.equal(sem.value, 0);
  },
});
