import assert from "node:assert/strict";
import { Barrier, type BarrierHandle } from "../primitives/barrier.ts";
import { BrokenBarrierError, LayoutError } from "../primitives/errors.ts";
import { Event } from "../primitives/event.ts";
import { timed, WorkerGroup } from "./_helpers.ts";
import { until } from "./_poll.ts";
import { TERMINATED_EXIT_CODE, WorkerProcess } from "../workers/worker_process.ts";

const TASKS = new URL("./_tasks/barrier_tasks.ts", import.meta.url);

function shared(cells: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(cells * 4));
}

/** Catches a rejection as the error's name. */
function outcome(p: Promise<number>): Promise<number | string> {
  return p.catch((err: Error) => err.name);
}

Deno.test("Barrier rejects bad arguments with typed errors (BR-11)", () => {
  for (const bad of [0, -1, 1.5, NaN, Infinity]) {
    assert.throws(() => new Barrier(bad), RangeError, `Barrier(${bad})`);
  }
  assert.throws(() => new Barrier(2, { action: 5 as never }), TypeError);
  assert.throws(
    () => Barrier.from(new Event().handle as unknown as BarrierHandle),
    (e: unknown) => e instanceof LayoutError && e.problem === "wrong-kind",
  );
  assert.throws(() => Barrier.from(null as unknown as BarrierHandle), LayoutError);
  const barrier = new Barrier(3);
  new Int32Array(barrier.handle.memory.buffer!)[4] = 0; // parties
  assert.throws(
    () => Barrier.from(barrier.handle),
    (e: unknown) => e instanceof LayoutError && e.problem === "bad-parameters",
  );
});

Deno.test("Barrier(1).wait() returns 0 at once, every time, running the action (BR-10)", () => {
  let runs = 0;
  const barrier = new Barrier(1, { action: () => runs++ });
  for (let i = 0; i < 5; i++) assert.equal(barrier.wait(), 0);
  assert.equal(runs, 5);
  assert.equal(barrier.parties, 1);
  assert.equal(barrier.nWaiting, 0);
  assert.equal(barrier.broken, false);
});

Deno.test("Barrier: async parties get distinct indices, first arriver 0, cyclic (BR-1, BR-2)", async () => {
  const barrier = new Barrier(3);
  for (let round = 0; round < 3; round++) {
    const indices = await Promise.all([
      barrier.waitAsync(),
      barrier.waitAsync(),
      barrier.waitAsync(),
    ]);
    assert.deepEqual([...indices].sort(), [0, 1, 2]);
    assert.equal(indices[0], 0, "the first to arrive (it took the lock at once) gets 0");
    assert.equal(barrier.nWaiting, 0);
  }
});

Deno.test("Barrier: a throwing action reaches the last arriver and breaks the barrier (BR-4)", async () => {
  const barrier = new Barrier(2, {
    action: () => {
      throw new Error("action failed");
    },
  });
  const first = outcome(barrier.waitAsync());
  const last = outcome(barrier.waitAsync());
  assert.equal(await first, "BrokenBarrierError");
  assert.equal(await last, "Error");
  assert.equal(barrier.broken, true);
  assert.throws(() => barrier.wait(), BrokenBarrierError);
});

Deno.test("Barrier: abort() and reset() from inside the action do not deadlock", async () => {
  let mode: "abort" | "reset" | "none" = "abort";
  const barrier: Barrier = new Barrier(2, {
    action: () => {
      if (mode === "abort") barrier.abort();
      if (mode === "reset") barrier.reset();
    },
  });
  const results = await Promise.all([outcome(barrier.waitAsync()), outcome(barrier.waitAsync())]);
  assert.deepEqual(results, ["BrokenBarrierError", "BrokenBarrierError"]);
  assert.equal(barrier.broken, true);
  barrier.reset();
  mode = "reset";
  const again = await Promise.all([outcome(barrier.waitAsync()), outcome(barrier.waitAsync())]);
  assert.deepEqual(again, ["BrokenBarrierError", "BrokenBarrierError"]);
  assert.equal(barrier.broken, false, "reset() from the action leaves it usable");
  mode = "none";
  const indices = await Promise.all([
    barrier.waitAsync({ timeout: 1000 }),
    barrier.waitAsync({ timeout: 1000 }),
  ]);
  assert.deepEqual(indices.sort(), [0, 1]);
});

Deno.test("Barrier: a timeout breaks it for everyone, later waits fail at once (BR-5)", async () => {
  const barrier = new Barrier(3);
  const patient = outcome(barrier.waitAsync());
  const [result, ms] = await timed(() => outcome(barrier.waitAsync({ timeout: 50 })));
  assert.equal(result, "BrokenBarrierError");
  assert.ok(ms >= 49 && ms < 1000, `timed out after ${ms} ms`);
  assert.equal(await patient, "BrokenBarrierError");
  assert.equal(barrier.broken, true);
  const [later, msLater] = await timed(() => outcome(barrier.waitAsync({ timeout: 5000 })));
  assert.equal(later, "BrokenBarrierError");
  assert.ok(msLater < 50);
  const [sync, msSync] = await timed(() => {
    try {
      return barrier.wait({ timeout: 0 });
    } catch (err) {
      return (err as Error).name;
    }
  });
  assert.equal(sync, "BrokenBarrierError");
  assert.ok(msSync < 50);
});

Deno.test("Barrier: the constructor's timeout is the default of wait() (BR-6)", async () => {
  const barrier = new Barrier(2, { timeout: 40 });
  const [result, ms] = await timed(() => {
    try {
      return barrier.wait();
    } catch (err) {
      return (err as Error).name;
    }
  });
  assert.equal(result, "BrokenBarrierError");
  assert.ok(ms >= 39 && ms < 1000, `default timeout took ${ms} ms`);
  barrier.reset();
  const [resultA, msA] = await timed(() => outcome(barrier.waitAsync()));
  assert.equal(resultA, "BrokenBarrierError");
  assert.ok(msA >= 39 && msA < 1000);
});

Deno.test("Barrier: abort() breaks current and later waits; reset() makes it usable (BR-7, BR-8)", async () => {
  const barrier = new Barrier(3);
  const waiting = [outcome(barrier.waitAsync()), outcome(barrier.waitAsync())];
  await until(() => barrier.nWaiting === 2, "2 waiting");
  assert.equal(barrier.nWaiting, 2);
  barrier.abort();
  assert.deepEqual(await Promise.all(waiting), ["BrokenBarrierError", "BrokenBarrierError"]);
  assert.equal(barrier.broken, true);
  assert.throws(() => barrier.wait(), BrokenBarrierError);
  barrier.reset();
  assert.equal(barrier.broken, false);
  assert.equal(barrier.nWaiting, 0);
  const round = await Promise.all([barrier.waitAsync(), barrier.waitAsync(), barrier.waitAsync()]);
  assert.deepEqual(round.sort(), [0, 1, 2]);
  // reset() with waiters present: they break, the barrier stays usable.
  const pending = [outcome(barrier.waitAsync())];
  await until(() => barrier.nWaiting === 1, "1 waiting");
  barrier.reset();
  assert.deepEqual(await Promise.all(pending), ["BrokenBarrierError"]);
  assert.equal(barrier.broken, false);
  const next = await Promise.all([barrier.waitAsync(), barrier.waitAsync(), barrier.waitAsync()]);
  assert.deepEqual(next.sort(), [0, 1, 2]);
});

Deno.test("Barrier.waitAsync: an AbortSignal breaks the barrier and rejects with its reason", async () => {
  const barrier = new Barrier(3);
  const other = outcome(barrier.waitAsync());
  const controller = new AbortController();
  const aborted = barrier.waitAsync({ signal: controller.signal });
  await until(() => barrier.nWaiting === 2, "2 waiting");
  controller.abort(new Error("cancelled"));
  await assert.rejects(aborted, /cancelled/);
  assert.equal(await other, "BrokenBarrierError");
  assert.equal(barrier.broken, true);
  await assert.rejects(barrier.waitAsync({ signal: AbortSignal.abort(new Error("pre")) }), /pre/);
});

Deno.test({
  name:
    "Barrier: 4 workers x 40 rounds, distinct indices, nobody passes early, one action per round (BR-1..3, BR-9)",
  timeout: 60_000,
  async fn() {
    using group = new WorkerGroup();
    const parties = 4;
    const count = 40;
    const barrier = new Barrier(parties);
    const stats = shared(4 * count);
    const violations = await Promise.all(
      Array.from(
        { length: parties },
        () => group.run<number>(TASKS, "rounds", barrier.handle, stats, count, parties),
      ),
    );
    assert.deepEqual(violations, [0, 0, 0, 0]);
    for (let r = 0; r < count; r++) {
      assert.equal(stats[4 * r], parties, `round ${r}: arrivals`);
      assert.equal(stats[4 * r + 1], 0b1111, `round ${r}: indices 0..3 exactly once`);
      assert.equal(stats[4 * r + 2], parties, `round ${r}: passes`);
      assert.equal(stats[4 * r + 3], 1, `round ${r}: the action ran once`);
    }
    assert.equal(barrier.nWaiting, 0);
    assert.equal(barrier.broken, false);
  },
});

Deno.test({
  name: "Barrier: the main thread's waitAsync meets blocked workers; nWaiting counts them (BR-9)",
  timeout: 60_000,
  async fn() {
    using group = new WorkerGroup();
    const barrier = new Barrier(4);
    const ready = shared(1);
    const workers = Array.from(
      { length: 3 },
      () =>
        group.run<[number | string, number]>(TASKS, "waitAndReport", barrier.handle, ready, 20_000),
    );
    await until(() => barrier.nWaiting === 3, "3 of 4 waiting");
    const mine = await barrier.waitAsync({ timeout: 10_000 });
    assert.equal(mine, 3, "the main thread arrived last");
    const indices = (await Promise.all(workers)).map(([index]) => index);
    assert.deepEqual(indices.sort(), [0, 1, 2]);
    assert.equal(barrier.nWaiting, 0);
  },
});

Deno.test({
  name:
    "Barrier: a worker's timeout and the main thread's abort break it for every worker (BR-5, BR-7)",
  timeout: 60_000,
  async fn() {
    using group = new WorkerGroup();
    const barrier = new Barrier(4);
    const ready = shared(1);
    const patient = [0, 1].map(() =>
      group.run<[number | string, number]>(TASKS, "waitAndReport", barrier.handle, ready)
    );
    await until(() => Atomics.load(ready, 0) === 2, "2 workers waiting");
    const [name, ms] = await group.run<[number | string, number]>(
      TASKS,
      "waitAndReport",
      barrier.handle,
      ready,
      50,
    );
    assert.equal(name, "BrokenBarrierError");
    assert.ok(ms >= 49 && ms < 1000, `worker timeout took ${ms} ms`);
    for (const [result] of await Promise.all(patient)) assert.equal(result, "BrokenBarrierError");
    barrier.reset();
    Atomics.store(ready, 0, 0);
    const aborted = [0, 1, 2].map(() =>
      group.run<[number | string, number]>(TASKS, "waitAndReport", barrier.handle, ready)
    );
    await until(() => barrier.nWaiting === 3, "3 workers waiting");
    barrier.abort();
    for (const [result] of await Promise.all(aborted)) assert.equal(result, "BrokenBarrierError");
    assert.equal(barrier.broken, true);
  },
});

Deno.test({
  name: "Barrier: a revived barrier keeps the default timeout",
  timeout: 30_000,
  async fn() {
    using group = new WorkerGroup();
    const barrier = new Barrier(2, { timeout: 30 });
    const [name, ms] = await group.run<[number | string, number]>(
      TASKS,
      "waitAndReport",
      barrier.handle,
      shared(1),
    );
    assert.equal(name, "BrokenBarrierError");
    assert.ok(ms >= 29 && ms < 1000, `worker's default timeout took ${ms} ms`);
  },
});

const WORKER_TASKS = new URL("./_tasks/worker_tasks.ts", import.meta.url);

for (const fn of ["waitAtBarrier", "waitAtBarrierAsync"]) {
  Deno.test({
    name: `Barrier: a party terminated in ${
      fn.endsWith("Async") ? "waitAsync" : "wait"
    } leaves like a timeout: the barrier breaks`,
    fn: async () => {
      const barrier = new Barrier(2);
      const party = new WorkerProcess({ module: WORKER_TASKS, fn, args: [barrier] });
      party.start();
      try {
        await until(() => barrier.nWaiting === 1, "the worker waits at the barrier");
        party.terminate();
        assert.equal(await party.joinAsync({ timeout: 5000 }), true);
        assert.equal(party.exitCode, TERMINATED_EXIT_CODE);
        assert.equal(barrier.nWaiting, 0, "the terminated party is not counted");
        assert.equal(barrier.broken, true);
        await assert.rejects(barrier.waitAsync({ timeout: 1000 }), BrokenBarrierError);
      } finally {
        party.terminate();
        await party.joinAsync({ timeout: 5000 });
      }
    },
  });
}
