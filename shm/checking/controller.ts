/**
 * The schedule controller: runs one scenario in one interleaving chosen step
 * by step, on a pool of simulated-thread workers.
 *
 * A scenario is a few thread functions (exports of a module, run in real
 * workers by URL and name) plus a `setup` that creates the primitives with
 * the checking allocator and a `check` of the final state. The controller
 * keeps the model of every wait: which threads sleep on which cell (in FIFO
 * order, as `Atomics.notify` wakes them), which may time out, and the virtual
 * clock. At each step it lists the enabled choices (a runnable thread takes
 * its next operation; a sleeping thread with a finite timeout times out) and
 * asks a {@linkcode Chooser}. When nothing is enabled and some thread has not
 * finished, the schedule is a deadlock.
 *
 * @module
 */

import { checkingHeap, resetCheckingHeap } from "./checking_memory.ts";
import {
  ANNOUNCED,
  CLOCK_INDEX,
  CONTROL_BYTES,
  FINISH_THREW,
  FINISHED,
  GRANT_ABORT,
  GRANT_GO,
  GRANTED,
  MAX_THREADS,
  OP_NAMES,
  OP_NOTIFY,
  OP_WAIT,
  QUIT,
  readText,
  S_ARG0,
  S_ARG1,
  S_FINISH,
  S_GRANT,
  S_OP,
  S_RESULT,
  S_STATE,
  slotBase,
  START,
  timeoutIndex,
  WAIT_NOT_EQUAL,
  WAIT_OK,
  WAIT_TIMED_OUT,
  writeText,
} from "./protocol.ts";

/**
 * A small concurrent program to explore: thread `i` runs the export
 * `threads[i]` of `module` as `fn(state, i)`, where `state` is what `setup`
 * returned (plain JSON: primitive handles, numbers...).
 *
 * @example
 * ```ts ignore
 * // lock_scenarios.ts: thread functions and the scenario in one module
 * import { Mutex, type MutexHandle } from "@concur/shm";
 * import { assertExplored, checkingAllocator, exploreRandom, type Scenario } from "@concur/shm/testing";
 *
 * export function locker(state: { mutex: MutexHandle }): boolean {
 *   const mutex = Mutex.from(state.mutex);
 *   return mutex.withLock(() => mutex.locked());
 * }
 *
 * export const scenario: Scenario<{ mutex: MutexHandle }> = {
 *   name: "two lockers",
 *   module: import.meta.url,
 *   threads: ["locker", "locker"],
 *   setup: () => ({ mutex: new Mutex({ allocate: checkingAllocator }).handle }),
 *   check: (_state, results) => {
 *     if (!results.every((held) => held === true)) throw new Error("lock not held");
 *   },
 * };
 *
 * if (import.meta.main) assertExplored(await exploreRandom(scenario, { schedules: 200 }));
 * ```
 */
export interface Scenario<S = unknown> {
  /** A name for reports. */
  readonly name: string;
  /** URL of the module that exports the thread functions (usually `import.meta.url`). */
  readonly module: string | URL;
  /** The export run by each simulated thread (at most 8 threads). */
  readonly threads: readonly string[];
  /**
   * Runs on the controller before each schedule (the checking heap is fresh):
   * create the primitives with `{ allocate: checkingAllocator }` and return
   * their handles.
   */
  readonly setup?: () => S;
  /**
   * Runs on the controller after every thread returned; throw to fail the
   * schedule. `results[i]` is what thread `i` returned (through JSON).
   */
  check?(state: S, results: unknown[]): void;
  /** Steps after which a schedule counts as a livelock (default 20,000). */
  readonly maxSteps?: number;
}

/**
 * One scheduling decision: `t >= 0` lets thread `t` take its next operation;
 * `-(t + 1)` makes thread `t`'s timed wait time out.
 *
 * @example
 * ```ts
 * import { type Choice, formatSchedule } from "@concur/shm/testing";
 *
 * // thread 0 steps twice, thread 1 steps, then thread 1's timed wait times out
 * const schedule: Choice[] = [0, 0, 1, -(1 + 1)];
 * console.log(formatSchedule(schedule).includes("T1")); // true
 * ```
 */
export type Choice = number;

/**
 * Picks the next step among the enabled choices.
 *
 * @example
 * ```ts
 * import type { Chooser } from "@concur/shm/testing";
 *
 * // never preempts: runs the lowest-numbered enabled thread until it blocks or ends
 * const lowestFirst: Chooser = { choose: (enabled) => enabled[0] };
 * console.log(lowestFirst.choose([1, 2, -1], 2)); // 1
 * // then: pool.run(scenario, lowestFirst)
 * ```
 */
export interface Chooser {
  /**
   * Picks one of the enabled choices.
   *
   * @param enabled The enabled choices (threads in order, then time-outs).
   * @param running The thread that took the previous step (-1 at the start).
   * @returns One element of `enabled`.
   */
  choose(enabled: readonly Choice[], running: number): Choice;
}

/**
 * How one schedule ended.
 *
 * @example
 * ```ts ignore
 * import { randomChooser, type ScheduleStatus, SimulationPool } from "@concur/shm/testing";
 *
 * await using pool = await SimulationPool.create(2);
 * const status: ScheduleStatus = pool.run(scenario, randomChooser(1)).status;
 * if (status === "deadlock") console.log("every thread is blocked forever");
 * ```
 */
export type ScheduleStatus = "passed" | "failed" | "deadlock" | "step-limit";

/**
 * The outcome of running a scenario under one schedule.
 *
 * @example
 * ```ts ignore
 * import { formatSchedule, scheduleChooser, SimulationPool } from "@concur/shm/testing";
 * import type { ScheduleResult } from "@concur/shm/testing";
 *
 * await using pool = await SimulationPool.create(2);
 * const result: ScheduleResult = pool.run(scenario, scheduleChooser([0, 1, 0]), { trace: true });
 * if (result.status !== "passed") {
 *   console.log(result.message, formatSchedule(result.schedule), result.trace?.join("\n"));
 * }
 * ```
 */
export interface ScheduleResult {
  /** `passed`, or what went wrong. */
  readonly status: ScheduleStatus;
  /** Every choice made, in order: replaying it reproduces the run exactly. */
  readonly schedule: Choice[];
  /** What each thread returned (for a passed schedule). */
  readonly results: unknown[];
  /** What went wrong, for a schedule that did not pass. */
  readonly message?: string;
  /** The operations, one line per step (when tracing was asked for). */
  readonly trace?: string[];
}

const enum ThreadState {
  /** Announced an operation, not yet granted. */
  Runnable,
  /** In a modelled wait on `waitCell`. */
  Blocked,
  /** Woken from a wait; the next step delivers `pendingResult`. */
  Woken,
  /** Its function ended. */
  Finished,
}

/** How long a thread may compute between two memory operations before it counts as stuck. */
const HANDOFF_TIMEOUT_MS = 20_000;

/**
 * A pool of simulated-thread workers, kept alive across schedules (starting
 * a worker costs far more than running a schedule).
 *
 * @example
 * ```ts ignore
 * import { SimulationPool } from "@concur/shm/testing";
 *
 * await using pool = await SimulationPool.create(2);
 * ```
 */
export class SimulationPool implements AsyncDisposable {
  readonly #control = new SharedArrayBuffer(CONTROL_BYTES);
  readonly #cells = new Int32Array(this.#control);
  readonly #floats = new Float64Array(this.#control);
  readonly #heapCells: Int32Array;
  #workers: (Worker | undefined)[] = [];
  #broken = new Set<number>();

  private constructor() {
    this.#heapCells = new Int32Array(checkingHeap());
  }

  /**
   * Starts `threads` simulated-thread workers.
   *
   * @param threads How many simulated threads scenarios may use (1..8).
   * @returns The pool, once every worker is ready.
   *
   * @example Share one pool between explorations
   * ```ts ignore
   * import { exploreRandom, SimulationPool } from "@concur/shm/testing";
   *
   * await using pool = await SimulationPool.create(3);
   * await exploreRandom(scenarioA, { pool });
   * await exploreRandom(scenarioB, { pool });
   * ```
   */
  static async create(threads: number): Promise<SimulationPool> {
    if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
      throw new RangeError(`A pool has 1..${MAX_THREADS} threads: received ${threads}`);
    }
    const pool = new SimulationPool();
    await Promise.all(Array.from({ length: threads }, (_, t) => pool.#spawn(t)));
    return pool;
  }

  /** How many simulated threads this pool can run. */
  get size(): number {
    return this.#workers.length;
  }

  #spawn(thread: number): Promise<void> {
    const worker = new Worker(new URL("./sim_worker.ts", import.meta.url), { type: "module" });
    this.#workers[thread] = worker;
    Atomics.store(this.#cells, slotBase(thread) + S_STATE, 0);
    return new Promise<void>((resolve, reject) => {
      worker.onmessage = () => {
        worker.onmessage = null;
        worker.onerror = null;
        resolve();
      };
      worker.onerror = (event: ErrorEvent) => {
        event.preventDefault();
        reject(new Error(`Simulated thread ${thread} failed to start: ${event.message}`));
      };
      worker.postMessage({ control: this.#control, heap: checkingHeap(), thread });
    });
  }

  /** Replaces workers that stopped answering during the last schedule. */
  async heal(): Promise<void> {
    for (const thread of this.#broken) {
      this.#workers[thread]?.terminate();
      await this.#spawn(thread);
    }
    this.#broken.clear();
  }

  /** Whether some worker must be replaced ({@linkcode SimulationPool.heal}) before the next run. */
  get needsHealing(): boolean {
    return this.#broken.size > 0;
  }

  /**
   * Stops every worker.
   *
   * @example
   * ```ts ignore
   * const pool = await SimulationPool.create(2);
   * try { ... } finally { pool.close(); }
   * ```
   */
  close(): void {
    for (let t = 0; t < this.#workers.length; t++) {
      Atomics.store(this.#cells, slotBase(t) + S_STATE, QUIT);
      Atomics.notify(this.#cells, slotBase(t) + S_STATE);
      this.#workers[t]?.terminate();
    }
    this.#workers = [];
  }

  /** Stops every worker (`await using pool = ...`). */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }

  /** Waits until thread `t` announced an operation or finished; false if it is stuck. */
  #awaitHandoff(t: number): boolean {
    const cell = slotBase(t) + S_STATE;
    for (let spins = 0; spins < 2000; spins++) {
      const state = Atomics.load(this.#cells, cell);
      if (state === ANNOUNCED || state === FINISHED) return true;
    }
    const deadline = performance.now() + HANDOFF_TIMEOUT_MS;
    for (;;) {
      const state = Atomics.load(this.#cells, cell);
      if (state === ANNOUNCED || state === FINISHED) return true;
      const left = deadline - performance.now();
      if (left <= 0) return false;
      Atomics.wait(this.#cells, cell, state, left);
    }
  }

  #grant(t: number, grant: number, result: number): void {
    const base = slotBase(t);
    this.#cells[base + S_GRANT] = grant;
    this.#cells[base + S_RESULT] = result;
    Atomics.store(this.#cells, base + S_STATE, GRANTED);
    Atomics.notify(this.#cells, base + S_STATE);
  }

  /**
   * Runs `scenario` once, asking `chooser` at every step.
   *
   * @param scenario The scenario.
   * @param chooser Decides each step.
   * @param options `trace`: record one line per step.
   * @returns How the schedule ended, with the choices made.
   *
   * @example Run one schedule chosen by hand
   * ```ts ignore
   * import { scheduleChooser, SimulationPool } from "@concur/shm/testing";
   *
   * await using pool = await SimulationPool.create(2);
   * const result = pool.run(scenario, scheduleChooser([0, 0, 1, 0, 1]), { trace: true });
   * console.log(result.status, result.trace);
   * ```
   */
  run<S>(
    scenario: Scenario<S>,
    chooser: Chooser,
    options: { trace?: boolean } = {},
  ): ScheduleResult {
    const n = scenario.threads.length;
    if (n < 1 || n > this.#workers.length) {
      throw new RangeError(
        `Scenario ${scenario.name} needs ${n} threads; the pool has ${this.#workers.length}`,
      );
    }
    if (this.needsHealing) throw new Error("The pool has stuck workers: await pool.heal() first");
    resetCheckingHeap();
    this.#floats[CLOCK_INDEX] = 0;
    const state = scenario.setup ? scenario.setup() : (undefined as S);
    const module = String(scenario.module);
    const maxSteps = scenario.maxSteps ?? 20_000;
    const trace: string[] | undefined = options.trace ? [] : undefined;
    const schedule: Choice[] = [];

    const threads: ThreadState[] = new Array(n).fill(ThreadState.Runnable);
    const waitCell: number[] = new Array(n).fill(-1);
    const deadline: number[] = new Array(n).fill(Infinity);
    const pendingResult: number[] = new Array(n).fill(0);
    const waiters = new Map<number, number[]>();
    let failure: { status: ScheduleStatus; message: string } | undefined;

    const observe = (t: number): void => {
      if (!this.#awaitHandoff(t)) {
        this.#broken.add(t);
        threads[t] = ThreadState.Finished;
        failure ??= {
          status: "failed",
          message: `thread ${t} ran ${HANDOFF_TIMEOUT_MS} ms without a memory operation`,
        };
        return;
      }
      const base = slotBase(t);
      if (Atomics.load(this.#cells, base + S_STATE) === FINISHED) {
        threads[t] = ThreadState.Finished;
        if (this.#cells[base + S_FINISH] === FINISH_THREW && failure === undefined) {
          const error = readText(this.#control, t) as { name?: string; message?: string };
          failure = {
            status: "failed",
            message: `thread ${t} (${scenario.threads[t]}) threw ${error?.name}: ${error?.message}`,
          };
          trace?.push(`t${t} threw ${error?.name}: ${error?.message}`);
        }
      } else {
        threads[t] = ThreadState.Runnable;
      }
    };

    for (let t = 0; t < n && failure === undefined; t++) {
      writeText(this.#control, t, {
        module,
        fn: scenario.threads[t],
        args: [state ?? null, t],
        owner: t + 1,
      });
      Atomics.store(this.#cells, slotBase(t) + S_STATE, START);
      Atomics.notify(this.#cells, slotBase(t) + S_STATE);
      observe(t);
    }

    let running = -1;
    const enabled: Choice[] = [];
    while (failure === undefined) {
      enabled.length = 0;
      let unfinished = 0;
      for (let t = 0; t < n; t++) {
        const s = threads[t];
        if (s !== ThreadState.Finished) unfinished++;
        if (s === ThreadState.Runnable || s === ThreadState.Woken) enabled.push(t);
      }
      for (let t = 0; t < n; t++) {
        if (threads[t] === ThreadState.Blocked && deadline[t] !== Infinity) enabled.push(-(t + 1));
      }
      if (unfinished === 0) break;
      if (enabled.length === 0) {
        const sleepers = [];
        for (let t = 0; t < n; t++) {
          if (threads[t] === ThreadState.Blocked) sleepers.push(`t${t} on cell ${waitCell[t]}`);
        }
        failure = {
          status: "deadlock",
          message: `deadlock: every unfinished thread waits forever (${sleepers.join(", ")})`,
        };
        break;
      }
      if (schedule.length >= maxSteps) {
        failure = { status: "step-limit", message: `no end after ${maxSteps} steps (livelock?)` };
        break;
      }
      let choice: Choice;
      try {
        choice = chooser.choose(enabled, running);
        if (!enabled.includes(choice)) {
          throw new Error(
            `choice ${formatChoice(choice)} is not enabled (${
              enabled.map(formatChoice).join(" ")
            })`,
          );
        }
      } catch (err) {
        // A replayed schedule that does not fit the run: the scenario is not
        // deterministic, or the schedule belongs to another scenario.
        failure = {
          status: "failed",
          message: `schedule diverged at step ${schedule.length}: ${(err as Error).message}`,
        };
        break;
      }
      schedule.push(choice);
      if (choice < 0) {
        const t = -choice - 1;
        const list = waiters.get(waitCell[t])!;
        list.splice(list.indexOf(t), 1);
        if (this.#floats[CLOCK_INDEX] < deadline[t]) this.#floats[CLOCK_INDEX] = deadline[t];
        threads[t] = ThreadState.Woken;
        pendingResult[t] = WAIT_TIMED_OUT;
        trace?.push(`t${t} wait on cell ${waitCell[t]} times out (clock ${deadline[t]} ms)`);
        continue;
      }
      const t = choice;
      running = t;
      if (threads[t] === ThreadState.Woken) {
        trace?.push(`t${t} wakes (${pendingResult[t] === WAIT_OK ? "ok" : "timed-out"})`);
        this.#grant(t, GRANT_GO, pendingResult[t]);
        observe(t);
        continue;
      }
      const base = slotBase(t);
      const op = this.#cells[base + S_OP];
      const where = this.#cells[base + S_ARG0];
      if (op === OP_WAIT) {
        const expected = this.#cells[base + S_ARG1];
        const value = Atomics.load(this.#heapCells, where);
        if (value !== expected) {
          trace?.push(`t${t} wait cell ${where} for ${expected}: not-equal (${value})`);
          this.#grant(t, GRANT_GO, WAIT_NOT_EQUAL);
          observe(t);
        } else {
          const timeout = this.#floats[timeoutIndex(t)];
          threads[t] = ThreadState.Blocked;
          waitCell[t] = where;
          deadline[t] = timeout === Infinity ? Infinity : this.#floats[CLOCK_INDEX] + timeout;
          let list = waiters.get(where);
          if (list === undefined) waiters.set(where, list = []);
          list.push(t);
          trace?.push(
            `t${t} sleeps on cell ${where} (=${expected})${
              timeout === Infinity ? "" : `, timeout ${timeout} ms`
            }`,
          );
        }
        continue;
      }
      if (op === OP_NOTIFY) {
        const requested = this.#cells[base + S_ARG1];
        const list = waiters.get(where) ?? [];
        const count = requested < 0 ? list.length : Math.min(requested, list.length);
        const woken = list.splice(0, count);
        for (const w of woken) {
          threads[w] = ThreadState.Woken;
          pendingResult[w] = WAIT_OK;
        }
        trace?.push(
          `t${t} notify cell ${where} (count ${requested < 0 ? "all" : requested}): woke ${
            woken.length ? woken.map((w) => `t${w}`).join(",") : "none"
          }`,
        );
        this.#grant(t, GRANT_GO, woken.length);
        observe(t);
        continue;
      }
      if (trace) {
        const before = op <= 5 ? ` (was ${Atomics.load(this.#heapCells, where)})` : "";
        trace.push(`t${t} ${OP_NAMES[op] ?? op} ${op <= 5 ? "cell" : "byte"} ${where}${before}`);
      }
      this.#grant(t, GRANT_GO, 0);
      observe(t);
    }

    // Unwind every thread still parked in an operation.
    for (let t = 0; t < n; t++) {
      if (threads[t] === ThreadState.Finished) continue;
      this.#grant(t, GRANT_ABORT, 0);
      if (!this.#awaitHandoff(t) || !this.#isFinished(t)) {
        // Aborted operations throw at once; a thread that announces again is stuck.
        this.#broken.add(t);
      }
    }

    const results: unknown[] = [];
    if (failure === undefined) {
      for (let t = 0; t < n; t++) results.push(readText(this.#control, t));
      try {
        scenario.check?.(state, results);
      } catch (err) {
        const e = err as Error;
        failure = { status: "failed", message: `check failed: ${e?.name}: ${e?.message}` };
      }
    }
    for (let t = 0; t < n; t++) {
      if (!this.#broken.has(t)) Atomics.store(this.#cells, slotBase(t) + S_STATE, 0);
    }
    if (failure !== undefined) {
      return { status: failure.status, schedule, results, message: failure.message, trace };
    }
    return { status: "passed", schedule, results, trace };
  }

  #isFinished(t: number): boolean {
    const base = slotBase(t);
    return Atomics.load(this.#cells, base + S_STATE) === FINISHED;
  }
}

/**
 * Writes a choice as text: `3` (thread 3 steps) or `T3` (thread 3 times out).
 *
 * @example
 * ```ts
 * import { formatChoice } from "@concur/shm/testing";
 *
 * console.log(formatChoice(-2)); // "T1"
 * ```
 */
export function formatChoice(choice: Choice): string {
  return choice < 0 ? `T${-choice - 1}` : String(choice);
}

/**
 * Writes a schedule compactly: runs of one thread as `t*k`, e.g. `0*12 1 T0 1*3`.
 *
 * @example
 * ```ts
 * import { formatSchedule } from "@concur/shm/testing";
 *
 * console.log(formatSchedule([0, 0, 0, 1, -1])); // "0*3 1 T0"
 * ```
 */
export function formatSchedule(schedule: readonly Choice[]): string {
  const parts: string[] = [];
  for (let i = 0; i < schedule.length;) {
    let j = i + 1;
    while (j < schedule.length && schedule[j] === schedule[i]) j++;
    const text = formatChoice(schedule[i]);
    parts.push(j - i > 1 ? `${text}*${j - i}` : text);
    i = j;
  }
  return parts.join(" ");
}

/**
 * Reads a schedule written by {@linkcode formatSchedule}.
 *
 * @example
 * ```ts
 * import { parseSchedule } from "@concur/shm/testing";
 *
 * console.log(parseSchedule("0*3 1 T0")); // [0, 0, 0, 1, -1]
 * ```
 */
export function parseSchedule(text: string): Choice[] {
  const schedule: Choice[] = [];
  for (const part of text.trim().split(/\s+/)) {
    if (part === "") continue;
    const match = /^(T?)(\d+)(?:\*(\d+))?$/.exec(part);
    if (match === null) throw new SyntaxError(`Bad schedule element "${part}"`);
    const thread = Number(match[2]);
    const choice = match[1] ? -(thread + 1) : thread;
    const repeat = match[3] ? Number(match[3]) : 1;
    for (let i = 0; i < repeat; i++) schedule.push(choice);
  }
  return schedule;
}
