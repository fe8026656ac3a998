/** Functions run inside workers by tests/barrier_test.ts. */
import { Barrier, type BarrierHandle } from "../../primitives/barrier.ts";

/**
 * `rounds` generations. Per round r (cells of `stats`, 4 per round):
 * [4r] arrivals, [4r+1] bitmask of indices seen, [4r+2] parties passed,
 * [4r+3] action runs. Returns how many violations it saw: an index seen
 * twice, passing before everyone arrived, or an action after a pass.
 */
export function rounds(
  handle: BarrierHandle,
  stats: Int32Array,
  count: number,
  parties: number,
): number {
  let round = 0;
  let violations = 0;
  const barrier = Barrier.from(handle, {
    action: () => {
      if (Atomics.load(stats, 4 * round + 2) !== 0) violations++;
      Atomics.add(stats, 4 * round + 3, 1);
    },
  });
  for (; round < count; round++) {
    Atomics.add(stats, 4 * round, 1);
    const index = barrier.wait({ timeout: 20_000 });
    if (Atomics.load(stats, 4 * round) !== parties) violations++;
    const bit = 1 << index;
    if ((Atomics.or(stats, 4 * round + 1, bit) & bit) !== 0) violations++;
    Atomics.add(stats, 4 * round + 2, 1);
  }
  return violations;
}

/** Counts itself in ready[0] (notified), waits; returns the index or the error's name, and ms. */
export function waitAndReport(
  handle: BarrierHandle,
  ready: Int32Array,
  timeout?: number,
): [number | string, number] {
  const barrier = Barrier.from(handle);
  Atomics.add(ready, 0, 1);
  Atomics.notify(ready, 0);
  const start = performance.now();
  try {
    return [barrier.wait({ timeout }), performance.now() - start];
  } catch (err) {
    return [(err as Error).name, performance.now() - start];
  }
}
