/**
 * Every scenario of the real primitives, by group: the long profile
 * (`tests/verify/run.ts`) runs them all; the fast tests pick some.
 */
import type { Scenario } from "../../../shm/checking/controller.ts";
import {
  mutexAsyncScenario,
  mutexMixedScenario,
  mutexScenario,
  recursiveMutexScenario,
} from "./mutex_scenarios.ts";
import { pipeCloseScenario, pipeEchoScenario, ringScenarioReal } from "./pipe_scenarios.ts";
import {
  closeBlockedPutScenario,
  closeScenario,
  joinScenario,
  queueAsyncScenario,
  queueScenario,
} from "./queue_scenarios.ts";
import {
  barrierScenario,
  barrierTimeoutScenario,
  conditionScenario,
  conditionTimeoutScenario,
  eventScenario,
  semaphoreScenario,
  sharedValueScenario,
} from "./sync_scenarios.ts";

/** A scenario and whether the bounded exhaustive search over it is small enough to finish. */
export interface ScenarioEntry {
  /** Group name (for `--only`). */
  group: string;
  /** The scenario. */
  scenario: Scenario<unknown>;
  /** Run the exhaustive search with this preemption bound (none: random only). */
  exhaustiveBound?: number;
}

/** Every scenario of the real primitives. */
export const ALL_SCENARIOS: ScenarioEntry[] = [
  { group: "mutex", scenario: mutexScenario(2, 2), exhaustiveBound: 2 },
  { group: "mutex", scenario: mutexScenario(3, 2) },
  { group: "mutex", scenario: mutexMixedScenario(3, 2) },
  { group: "mutex", scenario: mutexAsyncScenario(2) },
  { group: "recursive-mutex", scenario: recursiveMutexScenario(2, 2), exhaustiveBound: 1 },
  { group: "recursive-mutex", scenario: recursiveMutexScenario(3, 1) },
  { group: "semaphore", scenario: semaphoreScenario(3, 1, 2), exhaustiveBound: 1 },
  { group: "semaphore", scenario: semaphoreScenario(3, 2, 2) },
  { group: "semaphore", scenario: semaphoreScenario(4, 2, 2) },
  { group: "event", scenario: eventScenario, exhaustiveBound: 1 },
  { group: "condition", scenario: conditionScenario(2, 1), exhaustiveBound: 1 },
  { group: "condition", scenario: conditionScenario(2, 2) },
  { group: "condition", scenario: conditionTimeoutScenario(1), exhaustiveBound: 1 },
  { group: "barrier", scenario: barrierScenario(3, 2) },
  { group: "barrier", scenario: barrierScenario(2, 3), exhaustiveBound: 1 },
  { group: "barrier", scenario: barrierTimeoutScenario(3) },
  { group: "shared-value", scenario: sharedValueScenario(3, 2) },
  { group: "queue", scenario: queueScenario(2, 1, 2, 1) },
  { group: "queue", scenario: queueScenario(2, 2, 2, 2) },
  { group: "queue", scenario: queueScenario(2, 1, 3, 2, true) },
  { group: "queue", scenario: queueAsyncScenario(2, 1) },
  { group: "queue", scenario: closeScenario(3, 2) },
  { group: "queue", scenario: closeBlockedPutScenario(3, 1), exhaustiveBound: 1 },
  { group: "joinable-queue", scenario: joinScenario(3, 2) },
  { group: "pipe", scenario: pipeEchoScenario(2, 6, 16), exhaustiveBound: 1 },
  { group: "pipe", scenario: pipeEchoScenario(2, 40, 16) },
  { group: "pipe", scenario: pipeCloseScenario(3, 5), exhaustiveBound: 1 },
  { group: "ring-buffer", scenario: ringScenarioReal(4) },
];
