import assert from "node:assert/strict";
import { Condition, type ConditionHandle } from "../primitives/condition.ts";
import { LayoutError, NotOwnerError } from "../primitives/errors.ts";
import { Event } from "../primitives/event.ts";
import { Mutex } from "../primitives/mutex.ts";
import { RecursiveMutex } from "../primitives/recursive_mutex.ts";
import { timed, WorkerGroup } from "./_helpers.ts";
import { pause, until } from "./_poll.ts";

const TASKS = new URL("./_tasks/condition_tasks.ts", import.meta.url);

function shared(cells: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(cells * 4));
}

Deno.test("Condition: wait and notify without the lock throw NotOwnerError (CV-1)", async () => {
  const cond = new Condition();
  assert.throws(() => cond.wait({ timeout: 1 }), NotOwnerError);
  assert.throws(() => cond.notify(), NotOwnerError);
  assert.throws(() => cond.notifyAll(), NotOwnerError);
  await assert.rejects(cond.waitAsync({ timeout: 1 }), NotOwnerError);
  assert.throws(() => cond.waitFor(() => false, { timeout: 1 }), NotOwnerError);
  const withMutex = new Condition(new Mutex());
  assert.throws(() => withMutex.wait({ timeout: 1 }), NotOwnerError);
  assert.throws(() => withMutex.notify(), NotOwnerError);
  assert.equal(cond.getLock().locked(), false, "nothing was changed");
});

Deno.test("Condition: default lock is a Mutex; a RecursiveMutex or Mutex given is used as is (CV-2)", () => {
  assert.ok(new Condition().getLock() instanceof Mutex);
  const cond = new Condition(new RecursiveMutex()); // Python's default RLock
  assert.equal(cond.lock(), true);
  assert.equal(cond.lock(), true);
  cond.unlock();
  cond.unlock();
  assert.equal(cond.getLock().locked(), false);
  const mutex = new Mutex();
  const bound = new Condition(mutex);
  assert.equal(bound.getLock(), mutex);
  {
    using _held = bound.acquire();
    assert.equal(mutex.tryLock(), false, "holding the condition holds the mutex");
  }
  assert.equal(mutex.locked(), false);
  const viaOptions = new Condition({ lock: mutex });
  assert.equal(viaOptions.getLock(), mutex);
  assert.equal(bound.withLock(() => mutex.locked()), true);
});

Deno.test("Condition: wait times out with false after its timeout, lock held again (CV-3)", async () => {
  const cond = new Condition(new Mutex());
  cond.lock();
  const [r0, ms0] = await timed(() => cond.wait({ timeout: 0 }));
  assert.equal(r0, false);
  assert.ok(ms0 < 20);
  const [rNeg] = await timed(() => cond.wait({ timeout: -1 }));
  assert.equal(rNeg, false);
  const [r, ms] = await timed(() => cond.wait({ timeout: 50 }));
  assert.equal(r, false);
  assert.ok(ms >= 49 && ms < 1000, `wait({timeout: 50}) took ${ms} ms`);
  assert.equal(cond.getLock().heldByCurrentThread(), true);
  const [rA, msA] = await timed(() => cond.waitAsync({ timeout: 40 }));
  assert.equal(rA, false);
  assert.ok(msA >= 39 && msA < 1000, `waitAsync({timeout: 40}) took ${msA} ms`);
  assert.equal(cond.getLock().heldByCurrentThread(), true);
  cond.unlock();
});

Deno.test("Condition: notify with nobody waiting is a no-op and is not remembered (CV-5, CV-7)", () => {
  const cond = new Condition(new Mutex());
  cond.lock();
  assert.equal(cond.notify(), 0);
  assert.equal(cond.notify(5), 0);
  assert.equal(cond.notifyAll(), 0);
  assert.equal(cond.wait({ timeout: 20 }), false, "an earlier notify does not wake a later wait");
  assert.throws(() => cond.notify(-1), RangeError);
  assert.throws(() => cond.notify(1.5), RangeError);
  cond.unlock();
});

Deno.test("Condition: async waiters on the main thread wake in FIFO order, exactly n (CV-5, CV-10)", async () => {
  const cond = new Condition(new Mutex());
  const order: number[] = [];
  let entered = 0;
  const waiters = Array.from({ length: 6 }, (_, id) =>
    cond.withLockAsync(async () => {
      entered++;
      const notified = await cond.waitAsync({ timeout: 10_000 });
      if (notified) order.push(id);
      return notified;
    }));
  await until(() => entered === 6, "6 waiting");
  await cond.withLockAsync(() => assert.equal(cond.notify(2), 2));
  await until(() => order.length === 2, "2 woken");
  await pause(20);
  assert.deepEqual(order, [0, 1], "exactly the 2 oldest");
  await cond.withLockAsync(() => assert.equal(cond.notify(4), 4));
  await until(() => order.length === 6, "6 woken");
  assert.deepEqual(order, [0, 1, 2, 3, 4, 5]);
  await cond.withLockAsync(() => assert.equal(cond.notify(3), 0));
  assert.deepEqual(await Promise.all(waiters), [true, true, true, true, true, true]);
});

Deno.test("Condition: timed-out waiters are not counted by notify (CV-5)", async () => {
  const cond = new Condition(new Mutex());
  const log: string[] = [];
  const waiter = (name: string, timeout?: number) =>
    cond.withLockAsync(async () => {
      const r = await cond.waitAsync({ timeout });
      log.push(`${name}:${r}`);
      return r;
    });
  const a = waiter("a");
  const b = waiter("b", 20); // times out in the middle of the queue
  const c = waiter("c");
  const d = waiter("d", 20);
  assert.equal(await b, false);
  assert.equal(await d, false);
  await cond.withLockAsync(() => assert.equal(cond.notify(1), 1));
  assert.equal(await a, true);
  await cond.withLockAsync(() => assert.equal(cond.notify(1), 1, "b is skipped, c is woken"));
  assert.equal(await c, true);
  assert.deepEqual(log, ["b:false", "d:false", "a:true", "c:true"]);
  await cond.withLockAsync(() => assert.equal(cond.notifyAll(), 0));
});

Deno.test("Condition: an aborted waitAsync re-takes the lock, rejects, and passes its notification on", async () => {
  const cond = new Condition(new Mutex());
  const controller = new AbortController();
  let heldAfterAbort = false;
  let entered = 0;
  const a = cond.withLockAsync(async () => {
    entered++;
    try {
      await cond.waitAsync({ signal: controller.signal });
    } finally {
      heldAfterAbort = cond.getLock().heldByCurrentThread();
    }
  });
  const b = cond.withLockAsync(() => {
    entered++;
    return cond.waitAsync({ timeout: 10_000 });
  });
  await until(() => entered === 2, "a and b waiting");
  await cond.withLockAsync(() => {
    assert.equal(cond.notify(1), 1); // a is the oldest: a is notified...
    controller.abort(new Error("cancelled")); // ...but cancelled before it sees it
  });
  await assert.rejects(a, /cancelled/);
  assert.equal(heldAfterAbort, true, "the lock was re-taken before rejecting");
  assert.equal(await b, true, "b received the notification a could not use");
  await assert.rejects(
    cond.withLockAsync(() => cond.waitAsync({ signal: AbortSignal.abort(new Error("pre")) })),
    /pre/,
  );
  assert.equal(cond.getLock().locked(), false);
});

Deno.test("Condition.waitFor: truthy at once, one overall deadline, last value on timeout (CV-8, CV-9)", async () => {
  const cond = new Condition(new RecursiveMutex());
  cond.lock();
  const [v, ms] = await timed(() => cond.waitFor(() => 42, { timeout: 5000 }));
  assert.equal(v, 42);
  assert.ok(ms < 20);
  const [empty, msEmpty] = await timed(() => cond.waitFor(() => "", { timeout: 30 }));
  assert.equal(empty, "");
  assert.ok(msEmpty >= 29 && msEmpty < 1000, `waitFor timed out after ${msEmpty} ms`);
  const [z] = await timed(() => cond.waitFor(() => 0, { timeout: 0 }));
  assert.equal(z, 0);
  assert.equal(await cond.waitForAsync(() => "now"), "now");
  cond.unlock();
});

Deno.test("Condition.waitFor without the lock throws only when it must wait", () => {
  const cond = new Condition();
  assert.equal(cond.waitFor(() => 1), 1, "a true predicate needs no wait (as in CPython)");
  assert.throws(() => cond.waitFor(() => false, { timeout: 10 }), NotOwnerError);
});

Deno.test("Condition: bad constructor arguments and handles are typed errors", () => {
  assert.throws(() => new Condition("lock" as never), TypeError);
  assert.throws(() => new Condition({ lock: {} as never }), TypeError);
  assert.throws(
    () => Condition.from(new Event().handle as unknown as ConditionHandle),
    (e: unknown) => e instanceof LayoutError && e.problem === "wrong-kind",
  );
  const good = new Condition();
  assert.throws(
    () => Condition.from({ ...good.handle, lock: new Event().handle as never }),
    (e: unknown) => e instanceof LayoutError && e.problem === "wrong-kind",
  );
  assert.throws(
    () => Condition.from({ ...good.handle, lock: undefined as never }),
    LayoutError,
  );
  assert.throws(() => Condition.from(null as unknown as ConditionHandle), LayoutError);
  const revived = Condition.from(good.handle);
  revived.lock();
  assert.equal(good.getLock().locked(), true, "the lock is revived too");
  assert.ok(revived.getLock() instanceof Mutex);
  const rlocked = Condition.from(new Condition(new RecursiveMutex()).handle);
  assert.ok(rlocked.getLock() instanceof RecursiveMutex);
  revived.unlock();
});

Deno.test("Condition: many waits that time out leave no residue", () => {
  const cond = new Condition(new Mutex());
  cond.lock();
  for (let i = 0; i < 3000; i++) assert.equal(cond.wait({ timeout: 0 }), false);
  assert.equal(cond.notifyAll(), 0);
  cond.unlock();
});

Deno.test("Condition: more than 1024 outstanding waiters still all wake", async () => {
  const cond = new Condition(new Mutex());
  let entered = 0;
  let woken = 0;
  const n = 1100;
  const waiters: Promise<boolean>[] = [];
  for (let i = 0; i < n; i++) {
    waiters.push(cond.withLockAsync(async () => {
      entered++;
      const r = await cond.waitAsync({ timeout: 20_000 });
      woken++;
      return r;
    }));
  }
  await until(() => entered === n, "all waiting");
  await cond.withLockAsync(() => cond.notifyAll());
  const results = await Promise.all(waiters);
  assert.equal(woken, n);
  assert.ok(results.every((r) => r === true));
});

Deno.test({
  name: "Condition: notify(2), notify(4), notify(3) across 6 workers wake exactly 2, 4, 0 (CV-5)",
  timeout: 60_000,
  async fn() {
    using group = new WorkerGroup();
    const cond = new Condition(new Mutex());
    const ready = shared(1);
    const log = shared(8);
    const results = Array.from(
      { length: 6 },
      (_, id) => group.run<boolean>(TASKS, "waitOnce", cond.handle, id, ready, log),
    );
    await until(() => Atomics.load(ready, 0) === 6, "6 workers waiting");
    // Every worker took its ticket before releasing the lock, so from here on
    // all 6 count as waiting, asleep or not.
    await cond.withLockAsync(() => assert.equal(cond.notify(2), 2));
    await until(() => Atomics.load(log, 0) === 2, "2 woken");
    await pause(30);
    assert.equal(Atomics.load(log, 0), 2, "no third worker woke");
    await cond.withLockAsync(() => assert.equal(cond.notify(4), 4));
    await until(() => Atomics.load(log, 0) === 6, "6 woken");
    await cond.withLockAsync(() => assert.equal(cond.notify(3), 0));
    assert.deepEqual(await Promise.all(results), [true, true, true, true, true, true]);
    assert.deepEqual([...log.subarray(1, 7)].sort(), [0, 1, 2, 3, 4, 5]);
  },
});

Deno.test({
  name: "Condition: workers are woken in the order they began waiting (CV-10)",
  timeout: 60_000,
  async fn() {
    using group = new WorkerGroup();
    const cond = new Condition(new Mutex());
    const ready = shared(1);
    const log = shared(8);
    const results: Promise<boolean>[] = [];
    for (let id = 0; id < 4; id++) {
      results.push(group.run<boolean>(TASKS, "waitOnce", cond.handle, id, ready, log));
      await until(() => Atomics.load(ready, 0) === id + 1, `worker ${id} waiting`);
    }
    for (let k = 1; k <= 4; k++) {
      await cond.withLockAsync(() => cond.notify());
      await until(() => Atomics.load(log, 0) === k, `${k} woken`);
    }
    assert.deepEqual([...log.subarray(1, 5)], [0, 1, 2, 3]);
    await Promise.all(results);
  },
});

Deno.test({
  name:
    "Condition: a notified worker returns only after the notifier unlocks (CV-6); timeouts skipped",
  timeout: 60_000,
  async fn() {
    using group = new WorkerGroup();
    const cond = new Condition(new Mutex());
    const ready = shared(1);
    const log = shared(8);
    const first = group.run<boolean>(TASKS, "waitOnce", cond.handle, 0, ready, log);
    await until(() => Atomics.load(ready, 0) === 1, "first waiting");
    const middle = group.run<boolean>(TASKS, "waitOnce", cond.handle, 1, ready, log, 30);
    await until(() => Atomics.load(ready, 0) === 2, "middle waiting");
    const last = group.run<boolean>(TASKS, "waitOnce", cond.handle, 2, ready, log);
    await until(() => Atomics.load(ready, 0) === 3, "last waiting");
    assert.equal(await middle, false, "the middle waiter timed out");
    await cond.lockAsync();
    assert.equal(cond.notify(2), 2, "the timed-out waiter is not counted");
    await pause(30);
    assert.equal(Atomics.load(log, 0), 0, "nobody returns while the notifier holds the lock");
    cond.unlock();
    assert.equal(await first, true);
    assert.equal(await last, true);
  },
});

Deno.test({
  name: "Condition: wait releases every RecursiveMutex level and restores the depth (CV-4)",
  timeout: 60_000,
  async fn() {
    using group = new WorkerGroup();
    const cond = new Condition(new RecursiveMutex());
    const ready = shared(1);
    const waiting = group.run<[boolean, number]>(
      TASKS,
      "waitRecursive",
      cond.handle,
      3,
      ready,
    );
    await until(() => Atomics.load(ready, 0) === 1, "worker waiting");
    // The worker holds the lock 3 times, yet we can take it while it waits.
    assert.equal(await group.run(TASKS, "notifyFromHere", cond.handle, 1), 1);
    assert.deepEqual(await waiting, [true, 3]);
    const timedOut = await group.run<[boolean, number]>(
      TASKS,
      "waitRecursive",
      cond.handle,
      2,
      ready,
      20,
    );
    assert.deepEqual(timedOut, [false, 2], "depth restored after a timeout too");
    // The same on the main thread.
    const rlock = cond.getLock() as RecursiveMutex;
    rlock.lock();
    rlock.lock();
    rlock.lock();
    assert.equal(cond.wait({ timeout: 10 }), false);
    assert.equal(rlock.depth, 3);
    rlock.unlock();
    rlock.unlock();
    rlock.unlock();
    assert.equal(rlock.locked(), false);
  },
});

Deno.test({
  name: "Condition: after a timeout the lock is re-taken before wait returns",
  timeout: 60_000,
  async fn() {
    using group = new WorkerGroup();
    const cond = new Condition(new Mutex());
    const flag = shared(2);
    await cond.lockAsync();
    const waiting = timed(() => cond.waitAsync({ timeout: 10 }));
    // While we wait, a worker takes the lock and keeps it for 150 ms.
    const holder = group.run(TASKS, "holdLock", cond.handle, flag, 150);
    const [notified, ms] = await waiting;
    assert.equal(notified, false);
    assert.equal(cond.getLock().heldByCurrentThread(), true);
    if (Atomics.load(flag, 0) === 1) assert.ok(ms >= 100, `returned after the holder (${ms} ms)`);
    cond.unlock();
    await holder;
    assert.equal(await group.run(TASKS, "notifyWithoutLock", cond.handle), "NotOwnerError");
  },
});

Deno.test({
  name:
    "Condition.waitFor: one deadline across notifications from a worker; waitForAsync succeeds (CV-9)",
  timeout: 60_000,
  async fn() {
    using group = new WorkerGroup();
    const cond = new Condition(new Mutex());
    const state = shared(1);
    const bumps = group.run(TASKS, "bumpAndNotify", cond.handle, state, 6, 20);
    await cond.lockAsync();
    const [result, ms] = await timed(() =>
      cond.waitForAsync(() => Atomics.load(state, 0) >= 1000, { timeout: 90 })
    );
    assert.equal(result, false);
    assert.ok(ms >= 89 && ms < 1000, `waitFor kept one deadline (${ms} ms)`);
    const reached = await cond.waitForAsync(() => Atomics.load(state, 0) >= 6 && "six", {
      timeout: 10_000,
    });
    assert.equal(reached, "six");
    cond.unlock();
    await bumps;
  },
});

Deno.test({
  name:
    "Condition: bounded-buffer producer/consumer across 4 workers, exact totals, FIFO per producer",
  timeout: 60_000,
  async fn() {
    using group = new WorkerGroup();
    const lock = new Mutex();
    const notEmpty = new Condition(lock);
    const notFull = new Condition(lock);
    const capacity = 8;
    const buffer = shared(5 + capacity);
    const perProducer = 3000;
    const total = 2 * perProducer;
    const producers = [1, 2].map((p) =>
      group.run(
        TASKS,
        "produce",
        notEmpty.handle,
        notFull.handle,
        buffer,
        capacity,
        p,
        perProducer,
      )
    );
    const consumers = [0, 1].map(() =>
      group.run<[number, number, number]>(
        TASKS,
        "consume",
        notEmpty.handle,
        notFull.handle,
        buffer,
        capacity,
        total,
      )
    );
    await Promise.all(producers);
    const results = await Promise.all(consumers);
    const taken = results.reduce((a, [n]) => a + n, 0);
    const sum = results.reduce((a, [, s]) => a + s, 0);
    assert.equal(taken, total, "every item consumed exactly once");
    assert.equal(sum, 2 * (perProducer * (perProducer + 1)) / 2, "checksum");
    assert.ok(results.every(([, , ordered]) => ordered === 1), "FIFO per producer");
    assert.equal(buffer[2], 0);
    assert.equal(lock.locked(), false);
  },
});
