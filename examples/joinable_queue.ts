/**
 * `JoinableQueue` with 3 producers and 2 daemon consumers: the main program
 * waits for the producers, then `join()`s the queue (every item marked done),
 * and ends. The consumers loop forever; they are daemons, so they do not keep
 * the program alive and stop when it ends (Python's classic example).
 *
 * Run: `deno task example:joinable-queue` (`deno run -R examples/joinable_queue.ts`).
 *
 * @module
 */

import { JoinableQueue } from "../primitives/joinable_queue.ts";
import { isMainThread, WorkerProcess } from "../workers/worker_process.ts";

const ITEMS_PER_PRODUCER = 10;

/** Puts `count` items tagged with the producer's number. */
export function producer(queue: JoinableQueue<[number, number]>, id: number, count: number): void {
  for (let i = 0; i < count; i++) queue.put([id, i]);
}

/** Forever: take an item, "process" it (count it), mark it done. */
export async function consumer(
  queue: JoinableQueue<[number, number]>,
  processed: Int32Array,
): Promise<void> {
  for (;;) {
    const [producerId, i] = await queue.getAsync();
    await new Promise((resolve) => setTimeout(resolve, 1)); // the work
    Atomics.add(processed, 0, 1);
    Atomics.add(processed, 1 + producerId, i + 1);
    queue.taskDone();
  }
}

if (isMainThread()) {
  const queue = new JoinableQueue<[number, number]>(8, { codec: "json" });
  const processed = new Int32Array(new SharedArrayBuffer(16));
  for (let c = 0; c < 2; c++) {
    new WorkerProcess({
      module: import.meta.url,
      fn: "consumer",
      args: [queue, processed],
      name: `consumer-${c}`,
      daemon: true,
    }).start();
  }
  const producers = [0, 1, 2].map((id) =>
    new WorkerProcess({
      module: import.meta.url,
      fn: "producer",
      args: [queue, id, ITEMS_PER_PRODUCER],
      name: `producer-${id}`,
    })
  );
  for (const p of producers) p.start();
  for (const p of producers) await p.joinAsync();
  await queue.joinAsync(); // every item put has been marked done
  const perProducer = [1, 2, 3].map((i) => processed[i]);
  console.log(
    `all ${processed[0]} items processed; per producer checksums ${perProducer.join(", ")}`,
  );
  console.log("main ends; the daemon consumers stop with it");
}
