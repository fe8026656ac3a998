/** Functions run inside workers by tests/semaphore_test.ts. */
import { Semaphore, type SemaphoreHandle } from "../../primitives/semaphore.ts";

/**
 * `iterations` times: takes a permit, records how many threads are inside
 * (stats[0]) and the maximum ever seen (stats[1]), counts entries (stats[2]),
 * lingers briefly, leaves, releases. Starts when start[0] reaches `parties`.
 */
export function insideCriticalSection(
  handle: SemaphoreHandle,
  stats: Int32Array,
  iterations: number,
  start: Int32Array,
  parties: number,
): number {
  const sem = Semaphore.from(handle);
  Atomics.add(start, 0, 1);
  Atomics.notify(start, 0);
  while (Atomics.load(start, 0) < parties) Atomics.wait(start, 0, Atomics.load(start, 0), 5);
  for (let i = 0; i < iterations; i++) {
    sem.acquire();
    const inside = Atomics.add(stats, 0, 1) + 1;
    let max = Atomics.load(stats, 1);
    while (inside > max) {
      const seen = Atomics.compareExchange(stats, 1, max, inside);
      if (seen === max) break;
      max = seen;
    }
    Atomics.add(stats, 2, 1);
    for (let spin = 0; spin < 200; spin++) Atomics.load(stats, 0); // linger inside
    Atomics.sub(stats, 0, 1);
    sem.release();
  }
  return iterations;
}

/** Acquires `times` permits one by one, counting each in count[0] (notified). */
export function acquireCounting(handle: SemaphoreHandle, count: Int32Array, times: number): number {
  const sem = Semaphore.from(handle);
  for (let i = 0; i < times; i++) {
    if (!sem.acquire({ timeout: 20_000 })) throw new Error("acquire timed out");
    Atomics.add(count, 0, 1);
    Atomics.notify(count, 0);
  }
  return times;
}

/** Tries `times` times without waiting; returns how many succeeded. */
export function tryAcquireMany(handle: SemaphoreHandle, times: number): number {
  const sem = Semaphore.from(handle);
  let got = 0;
  for (let i = 0; i < times; i++) if (sem.tryAcquire()) got++;
  return got;
}

/** acquire({timeout}) from a worker: [acquired, elapsedMs]. */
export function acquireWithTimeout(handle: SemaphoreHandle, timeout: number): [boolean, number] {
  const sem = Semaphore.from(handle);
  const start = performance.now();
  const got = sem.acquire({ timeout });
  return [got, performance.now() - start];
}

/** Takes `k` permits, sets flag[0] = 1, sleeps `holdMs`, releases them one at a time. */
export function holdPermits(
  handle: SemaphoreHandle,
  flag: Int32Array,
  k: number,
  holdMs: number,
): boolean {
  const sem = Semaphore.from(handle);
  for (let i = 0; i < k; i++) sem.acquire();
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
  Atomics.wait(flag, 1, 0, holdMs);
  for (let i = 0; i < k; i++) sem.release();
  return true;
}

/** Releases `n` permits from this worker. */
export function releaseFromHere(handle: SemaphoreHandle, n: number): boolean {
  Semaphore.from(handle).release(n);
  return true;
}
