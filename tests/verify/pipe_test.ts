/**
 * Fast profile of the schedule exploration for Pipe and RingBuffer: whole
 * messages in order (chunked when longer than the ring), close seen after
 * the data, blocked sends and receives always woken.
 */
import { SimulationPool } from "../../shm/checking/controller.ts";
import { assertExplored, exploreExhaustive, exploreRandom } from "../../shm/checking/explore.ts";
import {
  pipeCloseScenario,
  pipeEchoScenario,
  ringScenarioReal,
} from "./scenarios/pipe_scenarios.ts";

const SCHEDULES = 300;

Deno.test({
  name: "verify: Pipe and RingBuffer pass random schedules and a bounded exhaustive search",
  timeout: 120_000,
  async fn(t) {
    await using pool = await SimulationPool.create(2);
    for (
      const scenario of [
        pipeEchoScenario(2, 6, 16),
        pipeEchoScenario(2, 40, 16),
        pipeCloseScenario(3, 5),
        ringScenarioReal(4),
      ]
    ) {
      await t.step(scenario.name, async () => {
        assertExplored(await exploreRandom(scenario, { schedules: SCHEDULES, pool }));
      });
    }
    await t.step("Pipe echo, every schedule with at most one preemption", async () => {
      const report = await exploreExhaustive(pipeEchoScenario(2, 6, 16), {
        preemptionBound: 1,
        pool,
      });
      assertExplored(report);
    });
  },
});
