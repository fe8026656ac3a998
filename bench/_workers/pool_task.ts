/**
 * Task module of `bench/pool.bench.ts`: the same work as the peers'
 * `peers/_piscina_task.mjs` (`{ kind, x }` → x + 1, after about 1 ms of busy
 * work when kind is "1ms"), exported for `Pool`, plus a no-op for the
 * worker start-up bench.
 *
 * @module
 */

import "../../workers/pool.ts"; // the worker runtime comes with the library

/** `{ kind, x }` → x + 1 (after ~1 ms of busy work for kind "1ms"). */
export function task({ kind, x }: { kind: string; x: number }): number {
  if (kind === "1ms") {
    const until = performance.now() + 1;
    while (performance.now() < until) { /* busy: a CPU-bound task */ }
  }
  return x + 1;
}

/** Does nothing (worker start-up bench). */
export function noop(): void {}
