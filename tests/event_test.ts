import assert from "node:assert/strict";
import { LayoutError } from "../primitives/errors.ts";
import { Event, type EventHandle } from "../primitives/event.ts";
import { Semaphore } from "../primitives/semaphore.ts";
import { timed, WorkerGroup } from "./_helpers.ts";
import { pause, until } from "./_poll.ts";

const TASKS = new URL("./_tasks/event_tasks.ts", import.meta.url);

Deno.test("Event starts clear; set and clear are idempotent (EV-1)", () => {
  const event = new Event();
  assert.equal(event.isSet(), false);
  event.set();
  assert.equal(event.isSet(), true);
  event.set();
  assert.equal(event.isSet(), true);
  event.clear();
  assert.equal(event.isSet(), false);
  event.clear();
  assert.equal(event.isSet(), false);
});

Deno.test("Event.wait returns at once when set, false after its timeout when not (EV-2)", async () => {
  const event = new Event();
  const [r0, ms0] = await timed(() => event.wait({ timeout: 0 }));
  assert.equal(r0, false);
  assert.ok(ms0 < 20);
  const [rNeg, msNeg] = await timed(() => event.wait({ timeout: -1 }));
  assert.equal(rNeg, false);
  assert.ok(msNeg < 20);
  const [r50, ms50] = await timed(() => event.wait({ timeout: 50 }));
  assert.equal(r50, false);
  assert.ok(ms50 >= 49 && ms50 < 1000, `wait({timeout: 50}) took ${ms50} ms`);
  const [rA, msA] = await timed(() => event.waitAsync({ timeout: 40 }));
  assert.equal(rA, false);
  assert.ok(msA >= 39 && msA < 1000, `waitAsync({timeout: 40}) took ${msA} ms`);
  event.set();
  const [r1, ms1] = await timed(() => event.wait({ timeout: 5000 }));
  assert.equal(r1, true);
  assert.ok(ms1 < 50);
  assert.equal(event.wait(), true);
  assert.equal(await event.waitAsync(), true);
});

Deno.test("Event.waitAsync honours an AbortSignal", async () => {
  const event = new Event();
  const controller = new AbortController();
  const pending = event.waitAsync({ signal: controller.signal });
  controller.abort(new Error("stop"));
  await assert.rejects(pending, /stop/);
  await assert.rejects(event.waitAsync({ signal: AbortSignal.abort(new Error("pre")) }), /pre/);
  const live = event.waitAsync({ timeout: 5000 });
  event.set();
  assert.equal(await live, true);
});

Deno.test("Event: set(); clear() wakes every current async waiter with true (EV-4)", async () => {
  const event = new Event();
  const waiters = Array.from({ length: 4 }, () => event.waitAsync({ timeout: 5000 }));
  await pause(5);
  event.set();
  event.clear();
  assert.deepEqual(await Promise.all(waiters), [true, true, true, true]);
  assert.equal(event.isSet(), false);
  assert.equal(await event.waitAsync({ timeout: 10 }), false, "later waits block again");
});

Deno.test("Event.from rejects handles of other kinds", () => {
  assert.throws(
    () => Event.from(new Semaphore().handle as unknown as EventHandle),
    (e: unknown) => e instanceof LayoutError && e.problem === "wrong-kind",
  );
  assert.throws(() => Event.from(undefined as unknown as EventHandle), LayoutError);
  const event = new Event();
  Event.from(event.handle).set();
  assert.equal(event.isSet(), true, "a revived event shares the flag");
});

Deno.test({
  name: "Event: set() wakes all 4 waiting workers, each with true (EV-3)",
  timeout: 30_000,
  async fn() {
    using group = new WorkerGroup();
    const event = new Event();
    const ready = new Int32Array(new SharedArrayBuffer(4));
    for (let round = 0; round < 2; round++) {
      Atomics.store(ready, 0, 0);
      const results = Array.from(
        { length: 4 },
        () => group.run<[boolean, number]>(TASKS, "waitForEvent", event.handle, ready),
      );
      await until(() => Atomics.load(ready, 0) === 4, "4 workers waiting");
      event.set();
      for (const [result] of await Promise.all(results)) assert.equal(result, true);
      assert.equal(event.wait({ timeout: 0 }), true, "later waits pass until clear");
      event.clear(); // the second round runs after set/clear, as in CPython's test
    }
  },
});

Deno.test({
  name: "Event: a worker's set(); clear() still wakes every waiting worker with true (EV-4)",
  timeout: 30_000,
  async fn() {
    using group = new WorkerGroup();
    const event = new Event();
    const ready = new Int32Array(new SharedArrayBuffer(4));
    const results = Array.from(
      { length: 3 },
      () => group.run<[boolean, number]>(TASKS, "waitForEvent", event.handle, ready, 20_000),
    );
    const mainWaiter = event.waitAsync({ timeout: 20_000 });
    await until(() => Atomics.load(ready, 0) === 3, "3 workers waiting");
    await pause(50); // let them reach the futex wait (correctness does not depend on it)
    await group.run(TASKS, "setAndClear", event.handle);
    for (const [result] of await Promise.all(results)) assert.equal(result, true);
    assert.equal(await mainWaiter, true);
    assert.equal(event.isSet(), false);
  },
});

Deno.test({
  name: "Event: waitAsync on the main thread wakes when a worker sets it; worker timeouts",
  timeout: 30_000,
  async fn() {
    using group = new WorkerGroup();
    const event = new Event();
    const setter = group.run(TASKS, "setAfter", event.handle, 50);
    const [result, ms] = await timed(() => event.waitAsync({ timeout: 10_000 }));
    assert.equal(result, true);
    assert.ok(ms < 5000);
    await setter;
    event.clear();
    const ready = new Int32Array(new SharedArrayBuffer(4));
    const [late, elapsed] = await group.run<[boolean, number]>(
      TASKS,
      "waitForEvent",
      event.handle,
      ready,
      50,
    );
    assert.equal(late, false);
    assert.ok(elapsed >= 49 && elapsed < 1000, `worker wait({timeout: 50}) took ${elapsed} ms`);
  },
});
