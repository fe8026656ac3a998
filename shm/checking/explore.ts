/**
 * Schedule exploration: seeded random schedules, bounded exhaustive search
 * with a preemption bound (CHESS, loom), and exact replay of a failure.
 *
 * A random run draws one seed per schedule from the base seed; a failure
 * reports that schedule's seed and its full list of choices, and either
 * replays it exactly ({@linkcode replay}). The exhaustive search enumerates
 * every schedule that preempts a runnable thread at most `preemptionBound`
 * times (switches at waits and ends of threads are free; a timeout fired
 * while some thread could run counts as a preemption), by depth-first
 * search over re-executions from the start.
 *
 * @module
 */

import {
  type Choice,
  type Chooser,
  formatSchedule,
  parseSchedule,
  type Scenario,
  type ScheduleResult,
  type ScheduleStatus,
  SimulationPool,
} from "./controller.ts";

/**
 * A schedule that failed, with everything needed to reproduce it.
 *
 * @example
 * ```ts ignore
 * import { exploreRandom, type ExplorationFailure, replay } from "@concur/shm/testing";
 *
 * const failure: ExplorationFailure | undefined = (await exploreRandom(scenario)).failure;
 * if (failure) {
 *   console.log(failure.status, failure.message);
 *   const again = await replay(scenario, { schedule: failure.schedule }); // the same run
 *   console.log(again.trace?.join("\n"));
 * }
 * ```
 */
export interface ExplorationFailure {
  /** What went wrong. */
  readonly status: Exclude<ScheduleStatus, "passed">;
  /** The failure's description. */
  readonly message: string;
  /** The schedule's seed (random exploration): `replay(scenario, { seed })`. */
  readonly seed?: number;
  /** The choices, formatted: `replay(scenario, { schedule })`. */
  readonly schedule: string;
  /** One line per step of the failing schedule. */
  readonly trace: string[];
}

/**
 * What an exploration did.
 *
 * @example
 * ```ts ignore
 * import { exploreExhaustive, type ExplorationReport } from "@concur/shm/testing";
 *
 * const report: ExplorationReport = await exploreExhaustive(scenario, { maxSchedules: 5000 });
 * console.log(report.schedules, report.complete, report.failure === undefined);
 * ```
 */
export interface ExplorationReport {
  /** The scenario's name. */
  readonly scenario: string;
  /** How schedules were chosen. */
  readonly mode: "random" | "exhaustive";
  /** Schedules run. */
  readonly schedules: number;
  /** Exhaustive mode: whether every schedule within the bound was run. */
  readonly complete: boolean;
  /** Wall-clock time, in ms. */
  readonly elapsedMs: number;
  /** Schedules per second. */
  readonly schedulesPerSecond: number;
  /** The first failing schedule, if any. */
  readonly failure?: ExplorationFailure;
}

/**
 * Options of {@linkcode exploreRandom}.
 *
 * @example
 * ```ts ignore
 * import { assertExplored, exploreRandom, type RandomOptions } from "@concur/shm/testing";
 *
 * // a fixed seed reproduces a failure found earlier; the time limit bounds CI time
 * const options: RandomOptions = { schedules: 2000, seed: 1234, timeLimitMs: 10_000 };
 * assertExplored(await exploreRandom(scenario, options));
 * ```
 */
export interface RandomOptions {
  /** How many schedules (default 1,000). */
  schedules?: number;
  /** Base seed (default: drawn at random, and reported on failure). */
  seed?: number;
  /** Stop after this many ms even if fewer schedules ran (default: no limit). */
  timeLimitMs?: number;
  /** A pool to reuse (default: one is started and stopped). */
  pool?: SimulationPool;
}

/**
 * Options of {@linkcode exploreExhaustive}.
 *
 * @example
 * ```ts ignore
 * import { assertExplored, type ExhaustiveOptions, exploreExhaustive } from "@concur/shm/testing";
 *
 * const options: ExhaustiveOptions = { preemptionBound: 3, maxSchedules: 50_000, timeLimitMs: 30_000 };
 * const report = await exploreExhaustive(scenario, options);
 * assertExplored(report);
 * console.log(report.complete); // true if every schedule within 3 preemptions ran
 * ```
 */
export interface ExhaustiveOptions {
  /** Most preemptions of a runnable thread per schedule (default 2). */
  preemptionBound?: number;
  /** Stop after this many schedules (default 100,000); the report says whether it completed. */
  maxSchedules?: number;
  /** Stop after this many ms (default: no limit). */
  timeLimitMs?: number;
  /** A pool to reuse (default: one is started and stopped). */
  pool?: SimulationPool;
}

/**
 * The seed of schedule `index` of a run with base seed `base`.
 *
 * @example
 * ```ts
 * import { scheduleSeed } from "@concur/shm/testing";
 *
 * console.log(scheduleSeed(1, 0) === scheduleSeed(1, 0)); // true
 * ```
 */
export function scheduleSeed(base: number, index: number): number {
  return (Math.imul(index + 1, 0x9e3779b9) ^ base) >>> 0;
}

/** mulberry32: a small, fast, seedable generator in [0, 1). */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The random chooser of one schedule. The seed also picks how "sticky" the
 * schedule is: a uniform walk switches threads at most steps, a sticky one
 * runs a thread for long stretches and preempts rarely (which finds bugs that
 * need one thread to get far ahead).
 *
 * @example
 * ```ts
 * import { randomChooser } from "@concur/shm/testing";
 *
 * const a = randomChooser(7);
 * const b = randomChooser(7);
 * const picks = (c: typeof a) => [1, 2, 3, 4].map(() => c.choose([0, 1, 2], 0)).join();
 * console.log(picks(a) === picks(b)); // true: the same seed makes the same schedule
 * ```
 */
export function randomChooser(seed: number): Chooser {
  const random = generator(seed);
  const switchProbability = [1, 0.5, 0.2, 0.05][Math.floor(random() * 4)];
  return {
    choose(enabled: readonly Choice[], running: number): Choice {
      if (running >= 0 && random() >= switchProbability && enabled.includes(running)) {
        return running;
      }
      return enabled[Math.floor(random() * enabled.length)];
    },
  };
}

/**
 * A chooser that follows a recorded schedule.
 *
 * @example
 * ```ts ignore
 * import { parseSchedule, scheduleChooser } from "@concur/shm/testing";
 *
 * const result = pool.run(scenario, scheduleChooser(parseSchedule("0*3 1 T0 1")));
 * ```
 */
export function scheduleChooser(schedule: readonly Choice[]): Chooser {
  let step = 0;
  return {
    choose(enabled: readonly Choice[]): Choice {
      if (step >= schedule.length) {
        throw new Error(
          `The recorded schedule ended after ${schedule.length} steps but the run goes on (${enabled.length} choices enabled)`,
        );
      }
      return schedule[step++];
    },
  };
}

async function withPool<T>(
  scenario: Scenario<unknown>,
  pool: SimulationPool | undefined,
  fn: (pool: SimulationPool) => Promise<T>,
): Promise<T> {
  if (pool !== undefined) return await fn(pool);
  const own = await SimulationPool.create(scenario.threads.length);
  try {
    return await fn(own);
  } finally {
    own.close();
  }
}

/** Lets timers and messages run between batches of (synchronous) schedules. */
function breathe(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

function failureOf(
  pool: SimulationPool,
  scenario: Scenario<unknown>,
  result: ScheduleResult,
  seed?: number,
): ExplorationFailure {
  // Run it again with tracing on: replays are exact, so the trace is the failure's.
  let trace: string[] = [];
  if (!pool.needsHealing) {
    const again = pool.run(scenario, scheduleChooser(result.schedule), { trace: true });
    trace = again.trace ?? [];
  }
  return {
    status: result.status as Exclude<ScheduleStatus, "passed">,
    message: result.message ?? result.status,
    seed,
    schedule: formatSchedule(result.schedule),
    trace,
  };
}

/**
 * Runs `scenario` under many seeded random schedules; stops at the first
 * failure.
 *
 * @param scenario The scenario.
 * @param options How many schedules, the base seed, a pool to reuse.
 * @returns The report (its `failure`, if any, replays with {@linkcode replay}).
 *
 * @example
 * ```ts ignore
 * import { assertExplored, exploreRandom } from "@concur/shm/testing";
 * import { mutexScenario } from "./my_scenarios.ts";
 *
 * assertExplored(await exploreRandom(mutexScenario, { schedules: 1000 }));
 * ```
 */
export function exploreRandom(
  scenario: Scenario<unknown>,
  options: RandomOptions = {},
): Promise<ExplorationReport> {
  const target = scenario;
  const base = options.seed ?? (Math.random() * 2 ** 32) >>> 0;
  const count = options.schedules ?? 1000;
  return withPool(target, options.pool, async (pool) => {
    const start = performance.now();
    let lastBreath = start;
    let ran = 0;
    let failure: ExplorationFailure | undefined;
    for (let i = 0; i < count; i++) {
      if (options.timeLimitMs !== undefined && performance.now() - start > options.timeLimitMs) {
        break;
      }
      const seed = scheduleSeed(base, i);
      const result = pool.run(target, randomChooser(seed));
      ran++;
      if (result.status !== "passed") {
        failure = failureOf(pool, target, result, seed);
        break;
      }
      if (pool.needsHealing) await pool.heal();
      if (performance.now() - lastBreath > 200) {
        await breathe();
        lastBreath = performance.now();
      }
    }
    if (pool.needsHealing) await pool.heal();
    const elapsedMs = performance.now() - start;
    return {
      scenario: scenario.name,
      mode: "random",
      schedules: ran,
      complete: ran === count,
      elapsedMs,
      schedulesPerSecond: ran / (elapsedMs / 1000),
      failure,
    };
  });
}

interface Frame {
  enabled: Choice[];
  running: number;
  preemptions: number;
  chosen: Choice;
  tried: Set<Choice>;
}

/**
 * Whether `choice` costs a preemption: switching away from a thread that
 * could go on, or firing a timeout while some thread could run (a timeout
 * is free only when every thread is asleep). Without the second rule the
 * search would follow unfair schedules in which a timed retry loop times out
 * forever while the thread it waits for never runs (a false livelock).
 */
function isPreemption(enabled: readonly Choice[], running: number, choice: Choice): boolean {
  if (choice < 0) return enabled.some((c) => c >= 0);
  return running >= 0 && choice !== running && enabled.includes(running);
}

/**
 * Runs every schedule of `scenario` that preempts a runnable thread at most
 * `preemptionBound` times (context switches where the running thread blocks
 * or ends are free), depth first; stops at the first failure.
 *
 * @param scenario The scenario (keep it small: a few threads, a few operations).
 * @param options The preemption bound, a budget, a pool to reuse.
 * @returns The report; `complete` tells whether the bounded space was exhausted.
 *
 * @example
 * ```ts ignore
 * import { assertExplored, exploreExhaustive } from "@concur/shm/testing";
 * import { mutexScenario } from "./my_scenarios.ts";
 *
 * const report = await exploreExhaustive(mutexScenario, { preemptionBound: 2 });
 * assertExplored(report);
 * console.log(report.complete);
 * ```
 */
export function exploreExhaustive(
  scenario: Scenario<unknown>,
  options: ExhaustiveOptions = {},
): Promise<ExplorationReport> {
  const target = scenario;
  const bound = options.preemptionBound ?? 2;
  const maxSchedules = options.maxSchedules ?? 100_000;
  return withPool(target, options.pool, async (pool) => {
    const start = performance.now();
    let lastBreath = start;
    let ran = 0;
    let complete = false;
    let failure: ExplorationFailure | undefined;
    const stack: Frame[] = [];
    for (;;) {
      if (ran >= maxSchedules) break;
      if (options.timeLimitMs !== undefined && performance.now() - start > options.timeLimitMs) {
        break;
      }
      let depth = 0;
      const chooser: Chooser = {
        choose(enabled, running) {
          const frame = stack[depth];
          if (frame !== undefined) {
            depth++;
            return frame.chosen;
          }
          const preemptions = depth === 0 ? 0 : stack[depth - 1].preemptions +
            (isPreemption(
                stack[depth - 1].enabled,
                stack[depth - 1].running,
                stack[depth - 1].chosen,
              )
              ? 1
              : 0);
          let chosen: Choice;
          if (enabled.includes(running)) chosen = running;
          else chosen = enabled.find((c) => c >= 0) ?? enabled[0];
          stack.push({
            enabled: [...enabled],
            running,
            preemptions,
            chosen,
            tried: new Set([chosen]),
          });
          depth++;
          return chosen;
        },
      };
      const result = pool.run(target, chooser);
      ran++;
      stack.length = Math.min(stack.length, result.schedule.length);
      if (result.status !== "passed") {
        failure = failureOf(pool, target, result);
        break;
      }
      if (pool.needsHealing) await pool.heal();
      // Backtrack to the deepest step with an untried choice within the bound.
      let advanced = false;
      while (stack.length > 0) {
        const frame = stack[stack.length - 1];
        const next = frame.enabled.find((c) =>
          !frame.tried.has(c) &&
          frame.preemptions + (isPreemption(frame.enabled, frame.running, c) ? 1 : 0) <= bound
        );
        if (next !== undefined) {
          frame.tried.add(next);
          frame.chosen = next;
          advanced = true;
          break;
        }
        stack.pop();
      }
      if (!advanced) {
        complete = true;
        break;
      }
      if (performance.now() - lastBreath > 200) {
        await breathe();
        lastBreath = performance.now();
      }
    }
    if (pool.needsHealing) await pool.heal();
    const elapsedMs = performance.now() - start;
    return {
      scenario: scenario.name,
      mode: "exhaustive",
      schedules: ran,
      complete,
      elapsedMs,
      schedulesPerSecond: ran / (elapsedMs / 1000),
      failure,
    };
  });
}

/**
 * Runs `scenario` again under one schedule, given by its seed or by its
 * choices (as printed in a failure), with a step-by-step trace.
 *
 * @param scenario The scenario.
 * @param from `{ seed }` or `{ schedule }` from an {@linkcode ExplorationFailure}.
 * @param options A pool to reuse.
 * @returns The run, with `trace`.
 *
 * @example
 * ```ts ignore
 * import { replay } from "@concur/shm/testing";
 * import { mutexScenario } from "./my_scenarios.ts";
 *
 * const result = await replay(mutexScenario, { schedule: "0*14 1*3 0" });
 * console.log(result.status, result.trace?.join("\n"));
 * ```
 */
export function replay(
  scenario: Scenario<unknown>,
  from: { seed: number } | { schedule: string | readonly Choice[] },
  options: { pool?: SimulationPool } = {},
): Promise<ScheduleResult> {
  const target = scenario;
  return withPool(target, options.pool, (pool) => {
    const chooser = "seed" in from ? randomChooser(from.seed) : scheduleChooser(
      typeof from.schedule === "string" ? parseSchedule(from.schedule) : from.schedule,
    );
    return Promise.resolve(pool.run(target, chooser, { trace: true }));
  });
}

/**
 * Describes a failure for a test report: the seed, the schedule, and the
 * last steps of the trace.
 *
 * @example
 * ```ts ignore
 * import { describeFailure, exploreRandom } from "@concur/shm/testing";
 *
 * const report = await exploreRandom(scenario);
 * if (report.failure) console.error(describeFailure(report));
 * ```
 */
export function describeFailure(report: ExplorationReport, traceLines: number = 60): string {
  const failure = report.failure;
  if (failure === undefined) return `${report.scenario}: ${report.schedules} schedules passed`;
  const trace = failure.trace.slice(-traceLines);
  return [
    `${report.scenario}: ${failure.status} after ${report.schedules} ${report.mode} schedules: ${failure.message}`,
    failure.seed !== undefined
      ? `  seed: ${failure.seed}  (replay(scenario, { seed: ${failure.seed} }))`
      : "",
    `  schedule: ${failure.schedule}`,
    `  trace (last ${trace.length} of ${failure.trace.length} steps):`,
    ...trace.map((line) => `    ${line}`),
  ].filter((line) => line !== "").join("\n");
}

/**
 * Throws (with the seed, schedule and trace) if the exploration found a
 * failing schedule.
 *
 * @example
 * ```ts ignore
 * import { assertExplored, exploreRandom } from "@concur/shm/testing";
 *
 * assertExplored(await exploreRandom(scenario, { schedules: 500 }));
 * ```
 */
export function assertExplored(report: ExplorationReport): void {
  if (report.failure !== undefined) throw new Error(describeFailure(report));
}
