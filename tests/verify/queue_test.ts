/**
 * Fast profile of the schedule exploration for Queue and JoinableQueue:
 * exactly-once delivery in per-producer order, blocked puts and gets always
 * woken, close and join end every thread.
 */
import { SimulationPool } from "../../shm/checking/controller.ts";
import { assertExplored, exploreRandom } from "../../shm/checking/explore.ts";
import {
  closeBlockedPutScenario,
  closeScenario,
  joinScenario,
  queueAsyncScenario,
  queueScenario,
} from "./scenarios/queue_scenarios.ts";

const SCHEDULES = 300;

const scenarios = [
  queueScenario(2, 1, 2, 1),
  queueScenario(2, 2, 2, 2),
  queueScenario(2, 1, 3, 2, true),
  closeScenario(3, 2),
  joinScenario(3, 2),
  closeBlockedPutScenario(3, 1),
  queueAsyncScenario(2, 1),
];

Deno.test({
  name: "verify: queues pass random schedules",
  timeout: 120_000,
  async fn(t) {
    await using pool = await SimulationPool.create(4);
    for (const scenario of scenarios) {
      await t.step(scenario.name, async () => {
        assertExplored(await exploreRandom(scenario, { schedules: SCHEDULES, pool }));
      });
    }
  },
});
