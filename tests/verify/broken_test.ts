/**
 * Proof that the checker bites: each deliberately broken variant (in
 * `broken/`) must be caught within 1,000 random schedules, and again by the
 * preemption-bounded exhaustive search. A test fails if a bug is NOT found.
 */
import assert from "node:assert/strict";
import { SimulationPool } from "../../shm/checking/controller.ts";
import { exploreExhaustive, exploreRandom, replay } from "../../shm/checking/explore.ts";
import { brokenBarrierScenario } from "./broken/broken_barrier.ts";
import { ringScenario } from "./broken/broken_ring.ts";
import { brokenSemaphoreScenario } from "./broken/broken_semaphore.ts";
import { brokenUnlockScenario } from "./broken/broken_unlock.ts";

const SEED = 0x5eed;

const cases = [
  { scenario: brokenUnlockScenario, expect: "deadlock" },
  { scenario: ringScenario(true), expect: "failed" },
  { scenario: brokenSemaphoreScenario, expect: "failed" },
  { scenario: brokenBarrierScenario, expect: "deadlock" },
] as const;

Deno.test({
  name: "verify: every broken variant is caught by random and exhaustive exploration",
  timeout: 120_000,
  async fn(t) {
    await using pool = await SimulationPool.create(3);
    for (const { scenario, expect } of cases) {
      await t.step(scenario.name, async () => {
        const random = await exploreRandom(scenario, { schedules: 1000, seed: SEED, pool });
        assert.ok(random.failure, `${scenario.name}: not found in ${random.schedules} schedules`);
        assert.equal(random.failure.status, expect, random.failure.message);
        // The failure replays exactly, from its seed and from its schedule.
        const bySeed = await replay(scenario, { seed: random.failure.seed! }, { pool });
        assert.equal(bySeed.status, expect);
        const bySchedule = await replay(scenario, { schedule: random.failure.schedule }, { pool });
        assert.equal(bySchedule.status, expect);
        assert.equal(bySchedule.message, random.failure.message);

        const exhaustive = await exploreExhaustive(scenario, {
          preemptionBound: 2,
          maxSchedules: 5000,
          pool,
        });
        assert.ok(exhaustive.failure, `${scenario.name}: exhaustive search missed it`);
        assert.equal(exhaustive.failure.status, expect);
      });
    }
  },
});

Deno.test({
  name: "verify: the correct ring passes the same scenario (the check is not vacuous)",
  timeout: 60_000,
  async fn() {
    await using pool = await SimulationPool.create(2);
    const random = await exploreRandom(ringScenario(false), { schedules: 300, seed: SEED, pool });
    assert.equal(random.failure, undefined);
    const exhaustive = await exploreExhaustive(ringScenario(false), { preemptionBound: 2, pool });
    assert.equal(exhaustive.failure, undefined);
    assert.ok(exhaustive.complete);
  },
});
