/**
 * The checking memory and the explorer themselves: direct-mode behaviour,
 * bad input, deadlock / timeout / livelock / failure reports, exact replay.
 */
import assert from "node:assert/strict";
import { checkPlainAndCellCopies } from "../_processes/memory_cases.ts";
import { Mutex } from "../../primitives/mutex.ts";
import { LayoutError } from "../../primitives/errors.ts";
import {
  checkingAllocator,
  CheckingMemory,
  resetCheckingHeap,
} from "../../shm/checking/checking_memory.ts";
import { formatSchedule, parseSchedule, SimulationPool } from "../../shm/checking/controller.ts";
import {
  exploreExhaustive,
  exploreRandom,
  randomChooser,
  replay,
  scheduleChooser,
} from "../../shm/checking/explore.ts";
import { attachMemory } from "../../shm/attach.ts";
import {
  livelockScenario,
  lockOrderScenario,
  orderScenario,
  throwingScenario,
  timeoutScenario,
} from "./scenarios/harness_scenarios.ts";

Deno.test("checking memory: outside a schedule it is a plain shared memory", () => {
  resetCheckingHeap();
  const memory = checkingAllocator(16);
  assert.equal(memory.backend, "checking");
  assert.equal(memory.byteLength, 16);
  memory.store(0, 41);
  assert.equal(memory.add(0, 1), 41);
  assert.equal(memory.exchange(0, 7), 42);
  assert.equal(memory.compareExchange(0, 7, 9), 7);
  assert.equal(memory.compareExchange(0, 7, 11), 9);
  assert.equal(memory.load(0), 9);
  memory.writeBytes(4, new Uint8Array([1, 2, 3]));
  const target = new Uint8Array(3);
  memory.readBytes(4, target);
  assert.deepEqual([...target], [1, 2, 3]);
  assert.deepEqual([...memory.viewBytes(4, 3)], [1, 2, 3]);
  assert.equal(memory.wait(0, 1, 0), "not-equal");
  assert.equal(memory.wait(0, 9, 0), "timed-out");
  assert.equal(memory.notify(0), 0);
  // Handles revive the same region, through the backend registry too.
  const again = attachMemory(memory.handle());
  assert.ok(again instanceof CheckingMemory);
  assert.equal(again.load(0), 9);
  // A fresh allocation after a reset starts zeroed.
  resetCheckingHeap();
  assert.equal(checkingAllocator(16).load(0), 0);
});

Deno.test("checking memory: bad input is a typed error", () => {
  resetCheckingHeap();
  const memory = checkingAllocator(8);
  assert.throws(() => memory.load(2), RangeError);
  assert.throws(() => memory.store(-1, 0), RangeError);
  assert.throws(() => memory.writeBytes(6, new Uint8Array(4)), RangeError);
  assert.throws(() => memory.readBytes(-1, new Uint8Array(1)), RangeError);
  assert.throws(() => checkingAllocator(0), RangeError);
  assert.throws(() => checkingAllocator(1 << 30), RangeError);
  assert.throws(
    () => CheckingMemory.from({ backend: "sab", byteOffset: 0, byteLength: 8 }),
    LayoutError,
  );
  assert.throws(() => new CheckingMemory(2, 8), LayoutError);
  assert.throws(() => new CheckingMemory(0, 1 << 30), LayoutError);
  assert.throws(() => parseSchedule("0 x1"), SyntaxError);
  resetCheckingHeap();
  checkPlainAndCellCopies(checkingAllocator(64));
});

Deno.test("checking memory: primitives run on it directly", () => {
  resetCheckingHeap();
  const mutex = new Mutex({ allocate: checkingAllocator });
  assert.equal(mutex.handle.memory.backend, "checking");
  assert.ok(mutex.tryLock());
  assert.ok(Mutex.from(mutex.handle).locked());
  mutex.unlock();
  assert.equal(mutex.locked(), false);
});

Deno.test("schedules: text form round-trips", () => {
  const schedule = [0, 0, 0, 1, -1, 2, 2, -3];
  assert.equal(formatSchedule(schedule), "0*3 1 T0 2*2 T2");
  assert.deepEqual(parseSchedule(formatSchedule(schedule)), schedule);
});

Deno.test({
  name: "explorer: reports deadlocks, timeouts, livelocks, failures; replays exactly",
  timeout: 60_000,
  async fn(t) {
    await using pool = await SimulationPool.create(2);

    await t.step("a lock-order inversion deadlocks (random and exhaustive)", async () => {
      const random = await exploreRandom(lockOrderScenario, { schedules: 1000, seed: 3, pool });
      assert.equal(random.failure?.status, "deadlock");
      assert.match(random.failure!.message, /waits forever/);
      const exhaustive = await exploreExhaustive(lockOrderScenario, { preemptionBound: 1, pool });
      assert.equal(exhaustive.failure?.status, "deadlock");
      const again = await replay(lockOrderScenario, { schedule: exhaustive.failure!.schedule }, {
        pool,
      });
      assert.equal(again.status, "deadlock");
      assert.deepEqual(again.trace, exhaustive.failure!.trace);
    });

    await t.step("a timed lock of a held mutex times out in virtual time", async () => {
      const report = await exploreRandom(timeoutScenario, { schedules: 50, seed: 1, pool });
      assert.equal(report.failure, undefined);
      const run = pool.run(timeoutScenario, randomChooser(5));
      assert.equal(run.status, "passed");
      assert.deepEqual(run.results[0], { acquired: false, elapsed: 25 });
    });

    await t.step("a thread that never blocks nor ends hits the step limit", () => {
      const run = pool.run(livelockScenario, randomChooser(1));
      assert.equal(run.status, "step-limit");
      assert.equal(run.schedule.length, 500);
    });

    await t.step("a thread that throws fails the schedule; the pool stays usable", () => {
      const run = pool.run(throwingScenario, randomChooser(1));
      assert.equal(run.status, "failed");
      assert.match(run.message!, /RangeError: thrown on purpose/);
      assert.equal(pool.needsHealing, false);
      assert.equal(pool.run(orderScenario, randomChooser(1)).status, "passed");
    });

    await t.step("the same choices give the same run; choices decide the order", () => {
      const first = pool.run(orderScenario, scheduleChooser([0, 1]), { trace: true });
      const second = pool.run(orderScenario, scheduleChooser([0, 1]), { trace: true });
      assert.deepEqual(first, second);
      assert.deepEqual(first.results, [[0, 0], [1, 1]]);
      const swapped = pool.run(orderScenario, scheduleChooser([1, 0]));
      assert.deepEqual(swapped.results, [[0, 1], [1, 0]]);
      // A schedule that does not fit is reported, and the pool stays usable.
      const diverged = pool.run(orderScenario, scheduleChooser([0, 0]));
      assert.equal(diverged.status, "failed");
      assert.match(diverged.message!, /diverged at step 1/);
      assert.equal(pool.run(orderScenario, scheduleChooser([1, 0])).status, "passed");
      // Each seed replays exactly.
      const bySeed = pool.run(orderScenario, randomChooser(77), { trace: true });
      assert.deepEqual(pool.run(orderScenario, randomChooser(77), { trace: true }), bySeed);
    });

    await t.step("exhaustive search enumerates every interleaving of a tiny scenario", async () => {
      const report = await exploreExhaustive(orderScenario, { preemptionBound: 5, pool });
      assert.ok(report.complete);
      // Each thread takes 1 step (its add; results travel without steps): 2 orders.
      assert.equal(report.schedules, 2);
    });
  },
});
