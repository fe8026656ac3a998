/** Functions run inside workers by tests/joinable_queue_test.ts. */
import { JoinableQueue, type JoinableQueueHandle } from "../../primitives/joinable_queue.ts";
import { QueueClosedError } from "../../primitives/errors.ts";

/** Puts items `first .. first + count - 1`. */
export function produce(handle: JoinableQueueHandle, first: number, count: number): number {
  const queue = JoinableQueue.from<number>(handle);
  for (let i = 0; i < count; i++) queue.put(first + i);
  return count;
}

/**
 * Python's documented worker loop: get an item, "process" it (count it in
 * `processed`), mark it done; stop when the queue is closed. Returns how many
 * it processed.
 */
export function worker(handle: JoinableQueueHandle, processed: Int32Array): number {
  const queue = JoinableQueue.from<number>(handle);
  let n = 0;
  for (;;) {
    let item: number;
    try {
      item = queue.get();
    } catch (err) {
      if (err instanceof QueueClosedError) return n;
      throw err;
    }
    Atomics.add(processed, item, 1);
    n++;
    queue.taskDone();
  }
}

/** Joins from a worker with a timeout; returns [joined, elapsed ms]. */
export function joinFromWorker(handle: JoinableQueueHandle, timeout: number): [boolean, number] {
  const queue = JoinableQueue.from(handle);
  const start = performance.now();
  const joined = queue.join({ timeout });
  return [joined, performance.now() - start];
}
