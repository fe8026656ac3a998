/**
 * Fast profile of the schedule exploration for the synchronisation
 * primitives: a few hundred random schedules per scenario and a
 * preemption-bounded exhaustive search where the space is small.
 * (`tests/verify/run.ts` runs the long profile.)
 */
import { SimulationPool } from "../../shm/checking/controller.ts";
import { assertExplored, exploreExhaustive, exploreRandom } from "../../shm/checking/explore.ts";
import {
  mutexAsyncScenario,
  mutexMixedScenario,
  mutexScenario,
  recursiveMutexScenario,
} from "./scenarios/mutex_scenarios.ts";
import {
  barrierScenario,
  barrierTimeoutScenario,
  conditionScenario,
  conditionTimeoutScenario,
  eventScenario,
  semaphoreScenario,
  sharedValueScenario,
} from "./scenarios/sync_scenarios.ts";

const SCHEDULES = 500;

const scenarios = [
  mutexScenario(2, 2),
  mutexScenario(3, 1),
  mutexMixedScenario(3, 2),
  mutexAsyncScenario(2),
  recursiveMutexScenario(2, 2),
  semaphoreScenario(3, 1, 2),
  semaphoreScenario(3, 2, 2),
  eventScenario,
  conditionScenario(2, 1),
  barrierScenario(3, 2),
  sharedValueScenario(3, 2),
  conditionTimeoutScenario(1),
  barrierTimeoutScenario(3),
];

Deno.test({
  name: "verify: synchronisation primitives pass random schedules",
  timeout: 120_000,
  async fn(t) {
    await using pool = await SimulationPool.create(3);
    for (const scenario of scenarios) {
      await t.step(scenario.name, async () => {
        assertExplored(await exploreRandom(scenario, { schedules: SCHEDULES, pool }));
      });
    }
  },
});

Deno.test({
  name: "verify: Mutex, Semaphore and Condition pass the bounded exhaustive search",
  timeout: 120_000,
  async fn(t) {
    await using pool = await SimulationPool.create(3);
    for (
      const scenario of [mutexScenario(2, 1), semaphoreScenario(3, 1, 1), conditionScenario(2, 1)]
    ) {
      await t.step(scenario.name, async () => {
        const report = await exploreExhaustive(scenario, {
          preemptionBound: 1,
          pool,
          maxSchedules: 3000,
        });
        assertExplored(report);
      });
    }
  },
});
