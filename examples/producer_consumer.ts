/**
 * Producer / consumer with a sentinel (the classic `multiprocessing` program).
 *
 * One producer worker puts the numbers 0..N-1 into a shared `Queue`, then a
 * sentinel (`null`); one consumer worker takes items until it sees the
 * sentinel and reports how many it got and their sum. The queue is bounded,
 * so a fast producer waits for the consumer instead of filling memory.
 *
 * Run: `deno task example:producer-consumer` (`deno run -R examples/producer_consumer.ts [N]`).
 *
 * @module
 */

import { Queue } from "../primitives/queue.ts";
import { isMainThread, WorkerProcess } from "../workers/worker_process.ts";

/** Puts 0..n-1, then the sentinel. */
export function producer(queue: Queue<number | null>, n: number): void {
  for (let i = 0; i < n; i++) queue.put(i);
  queue.put(null); // the sentinel: "no more items"
}

/** Takes items until the sentinel; writes [count, sum] into `result`. */
export function consumer(queue: Queue<number | null>, result: Int32Array): void {
  let count = 0;
  let sum = 0;
  for (;;) {
    const item = queue.get();
    if (item === null) break;
    count++;
    sum += item;
  }
  result[0] = count;
  result[1] = sum;
}

if (isMainThread()) {
  const n = Number(Deno.args[0] ?? 1000);
  const queue = new Queue<number | null>(16, { codec: "json" });
  const result = new Int32Array(new SharedArrayBuffer(8));
  const workers = [
    new WorkerProcess({
      module: import.meta.url,
      fn: "producer",
      args: [queue, n],
      name: "producer",
    }),
    new WorkerProcess({
      module: import.meta.url,
      fn: "consumer",
      args: [queue, result],
      name: "consumer",
    }),
  ];
  for (const worker of workers) worker.start();
  for (const worker of workers) await worker.joinAsync();
  for (const worker of workers) {
    if (worker.exitCode !== 0) throw worker.error ?? new Error(`${worker.name} failed`);
  }
  console.log(
    `consumer got ${result[0]} items, sum ${result[1]} (expected ${n}, ${(n * (n - 1)) / 2})`,
  );
}
