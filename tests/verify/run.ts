/**
 * The long verification profile: every scenario of the real primitives
 * under N random schedules (and the bounded exhaustive search where it is
 * small enough), every recorded-history check on N histories.
 *
 * Usage:
 *
 *   deno run -A tests/verify/run.ts [schedules=10000] [--seed=N] [--histories=N]
 *     [--only=group,group] [--exhaustive-budget=N]
 *
 * Groups: mutex, recursive-mutex, semaphore, event, condition, barrier,
 * shared-value, queue, joinable-queue, pipe, ring-buffer, histories. Prints one line per check with the rate,
 * and every failure with its seed and schedule (replay with
 * `replay(scenario, { seed })` or `{ schedule }`). Exits 1 on any failure.
 */
import { SimulationPool } from "../../shm/checking/controller.ts";
import { describeFailure, exploreExhaustive, exploreRandom } from "../../shm/checking/explore.ts";
import { checkHistories, HISTORY_SPECS, RACY_SEMAPHORE_SPEC } from "./histories.ts";
import { ALL_SCENARIOS } from "./scenarios/all.ts";

const args = Deno.args;
const positional = args.filter((a) => !a.startsWith("--"));
const flag = (name: string): string | undefined =>
  args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);

const schedules = Number(positional[0] ?? 10_000);
if (!Number.isInteger(schedules) || schedules < 1) {
  console.error(`Usage: run.ts [schedules] [--seed=N] [--histories=N] [--only=groups]`);
  Deno.exit(2);
}
const seed = Number(flag("seed") ?? ((Math.random() * 2 ** 32) >>> 0));
const histories = Number(flag("histories") ?? schedules);
const budget = Number(flag("exhaustive-budget") ?? 20_000);
const only = flag("only")?.split(",");
const wanted = (group: string) => only === undefined || only.includes(group);

console.log(`verify: ${schedules} schedules per scenario, base seed ${seed}`);
let failures = 0;
const started = performance.now();

const threads = Math.max(...ALL_SCENARIOS.map((e) => e.scenario.threads.length));
const pool = await SimulationPool.create(threads);
try {
  for (const entry of ALL_SCENARIOS) {
    if (!wanted(entry.group)) continue;
    const report = await exploreRandom(entry.scenario, { schedules, seed, pool });
    const line =
      `${entry.scenario.name.padEnd(52)} random ${String(report.schedules).padStart(7)} ` +
      `${report.schedulesPerSecond.toFixed(0).padStart(6)}/s`;
    if (report.failure) {
      failures++;
      console.log(`${line}  FAILED\n${describeFailure(report)}`);
      continue;
    }
    console.log(`${line}  ok`);
    if (entry.exhaustiveBound !== undefined) {
      const exhaustive = await exploreExhaustive(entry.scenario, {
        preemptionBound: entry.exhaustiveBound,
        maxSchedules: budget,
        pool,
      });
      const text = `${entry.scenario.name.padEnd(52)} exh.p${entry.exhaustiveBound} ${
        String(exhaustive.schedules).padStart(6)
      } ${exhaustive.schedulesPerSecond.toFixed(0).padStart(6)}/s`;
      if (exhaustive.failure) {
        failures++;
        console.log(`${text}  FAILED\n${describeFailure(exhaustive)}`);
      } else {
        console.log(`${text}  ok${exhaustive.complete ? " (complete)" : " (budget reached)"}`);
      }
    }
  }
} finally {
  pool.close();
}

if (wanted("histories")) {
  for (const [name, spec] of Object.entries(HISTORY_SPECS)) {
    let checked = 0;
    let concurrent = 0;
    let elapsed = 0;
    let failure: string | undefined;
    // Batches of 5,000 rounds keep the per-round primitives' memory small.
    for (let batch = 0; checked < histories && failure === undefined; batch++) {
      const rounds = Math.min(5_000, histories - checked);
      const report = await checkHistories(spec, rounds, seed + batch);
      checked += report.histories;
      concurrent += report.concurrent;
      elapsed += report.histories / report.perSecond;
      failure = report.failure;
    }
    const line = `histories ${name.padEnd(42)} ${String(checked).padStart(7)} ${
      (checked / elapsed).toFixed(0).padStart(6)
    }/s  (${concurrent} with overlapping operations)`;
    if (failure) {
      failures++;
      console.log(`${line}  NOT LINEARIZABLE\n${failure}`);
    } else {
      console.log(`${line}  linearizable`);
    }
  }
}

if (wanted("histories")) {
  // Informational: the history check also catches the broken load+store
  // semaphore under real concurrency, when the race window is hit (it is a
  // few nanoseconds wide, so this depends on the machine; not a failure).
  let checked = 0;
  let found: string | undefined;
  for (let batch = 0; checked < histories && found === undefined; batch++) {
    const report = await checkHistories(
      RACY_SEMAPHORE_SPEC,
      Math.min(5_000, histories - checked),
      seed + batch,
    );
    checked += report.histories;
    found = report.failure;
  }
  console.log(
    found
      ? `histories BROKEN racy semaphore: caught after <= ${checked} histories\n${found}`
      : `histories BROKEN racy semaphore: not caught in ${checked} histories (race window not hit)`,
  );
}

console.log(
  `verify: ${failures === 0 ? "all passed" : `${failures} FAILED`} in ${
    ((performance.now() - started) / 1000).toFixed(1)
  } s`,
);
Deno.exit(failures === 0 ? 0 : 1);
