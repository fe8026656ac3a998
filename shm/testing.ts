/**
 * `@concur/shm/testing`: check concurrent code built on the primitives, the
 * way Rust's loom and Java's Lincheck do.
 *
 * Two tools:
 *
 * - **Schedule exploration.** A scenario is a few thread functions that use
 *   real primitives. Each runs in a simulated thread (a real worker, reused
 *   across schedules) on a {@linkcode CheckingMemory}, where every cell
 *   operation, byte copy, wait and notify is a scheduling point: the thread
 *   stops before each one until the controller lets it go. So one run is one
 *   chosen interleaving, reproducible exactly. Waits are modelled: a waiting
 *   thread runs again only when a notify picks it or its timeout is chosen
 *   as an event (time is virtual, so timeouts are deterministic too); if
 *   every unfinished thread waits with no timeout, the schedule is a
 *   deadlock. {@linkcode exploreRandom} runs seeded random schedules,
 *   {@linkcode exploreExhaustive} every schedule with at most N preemptions
 *   (CHESS), {@linkcode replay} re-runs a failure from its seed or schedule.
 * - **Linearizability.** Record histories of operations from real workers
 *   ({@linkcode HistoryClock}) and check each against a sequential model
 *   ({@linkcode checkLinearizable}, with {@linkcode queueModel},
 *   {@linkcode ringBufferModel}, {@linkcode semaphoreModel},
 *   {@linkcode mutexModel}, or your own {@linkcode SequentialModel}).
 *
 * Limits: scenario threads are synchronous code between scheduling points
 * (an `await` of anything but a checking-memory operation is not modelled);
 * thread results and scenario state travel as JSON; at most 8 threads.
 *
 * @example Check that a counter guarded by a Mutex loses no update
 * ```ts ignore
 * // counter_scenario.ts (imported by the test and by the simulated threads)
 * import { Mutex, type MutexHandle } from "@concur/shm";
 * import { checkingAllocator, CheckingMemory, type Scenario } from "@concur/shm/testing";
 * import type { MemoryHandle } from "@concur/shm";
 *
 * type State = { mutex: MutexHandle; counter: MemoryHandle };
 *
 * export function increment(state: State): void {
 *   const mutex = Mutex.from(state.mutex);
 *   const counter = CheckingMemory.from(state.counter);
 *   mutex.withLock(() => counter.store(0, counter.load(0) + 1));
 * }
 *
 * export const counterScenario: Scenario<State> = {
 *   name: "counter under a mutex",
 *   module: import.meta.url,
 *   threads: ["increment", "increment", "increment"],
 *   setup: () => ({
 *     mutex: new Mutex({ allocate: checkingAllocator }).handle,
 *     counter: checkingAllocator(4).handle(),
 *   }),
 *   check: (state) => {
 *     if (CheckingMemory.from(state.counter).load(0) !== 3) throw new Error("lost update");
 *   },
 * };
 *
 * // counter_test.ts
 * import { assertExplored, exploreExhaustive, exploreRandom } from "@concur/shm/testing";
 * import { counterScenario } from "./counter_scenario.ts";
 *
 * Deno.test({
 *   name: "no lost update",
 *   timeout: 60_000,
 *   async fn() {
 *     assertExplored(await exploreRandom(counterScenario, { schedules: 1000 }));
 *     assertExplored(await exploreExhaustive(counterScenario, { preemptionBound: 2 }));
 *   },
 * });
 * ```
 *
 * @example Check a recorded history
 * ```ts
 * import { checkLinearizable, semaphoreModel } from "@concur/shm/testing";
 *
 * const verdict = checkLinearizable(semaphoreModel(1), [
 *   { thread: 0, input: { op: "tryAcquire" }, output: true, invoke: 0, response: 3 },
 *   { thread: 1, input: { op: "tryAcquire" }, output: true, invoke: 1, response: 2 },
 * ]);
 * console.log(verdict.ok); // false: one permit cannot admit two overlapping acquires
 * ```
 *
 * @module
 */

export type { Memory, MemoryHandle, WaitResult } from "./memory.ts";
export type { MemoryAllocator } from "../primitives/_header.ts";
export {
  checkingAllocator,
  checkingHeap,
  CheckingMemory,
  DEFAULT_HEAP_BYTES,
  installScheduler,
  resetCheckingHeap,
  type SchedulerHook,
  useCheckingHeap,
} from "./checking/checking_memory.ts";
export {
  type Choice,
  type Chooser,
  formatChoice,
  formatSchedule,
  parseSchedule,
  type Scenario,
  type ScheduleResult,
  type ScheduleStatus,
  SimulationPool,
} from "./checking/controller.ts";
export {
  assertExplored,
  describeFailure,
  type ExhaustiveOptions,
  type ExplorationFailure,
  type ExplorationReport,
  exploreExhaustive,
  exploreRandom,
  randomChooser,
  type RandomOptions,
  replay,
  scheduleChooser,
  scheduleSeed,
} from "./checking/explore.ts";
export {
  checkLinearizable,
  describeHistory,
  HistoryClock,
  type LinearizabilityResult,
  type MutexInput,
  mutexModel,
  type Operation,
  type QueueInput,
  queueModel,
  type QueueOutput,
  ringBufferModel,
  type RingInput,
  type RingOutput,
  type RingState,
  type SemaphoreInput,
  semaphoreModel,
  type SequentialModel,
} from "./checking/linearizability.ts";
