/**
 * Child processes for the cross-process queue tests. Args:
 * - ["produce", queue, producer, count]: puts producer * 2^20 + i for i < count.
 * - ["consume", queue]: gets until the queue is closed; prints
 *   {count, sum, fifo} as JSON (fifo: each producer's items arrived in order).
 * - ["work", joinableQueue]: like consume, and marks every item done.
 */
import { JoinableQueue } from "../../primitives/joinable_queue.ts";
import { Queue } from "../../primitives/queue.ts";
import { QueueClosedError } from "../../primitives/errors.ts";
import { registerRevivable } from "../../workers/revive.ts";
import { processArgs } from "../../workers/process_handle.ts";

registerRevivable("Queue", Queue.from as never);
registerRevivable("JoinableQueue", JoinableQueue.from as never);

const args = processArgs();
const role = args[0] as string;
if (role === "produce") {
  const [, queue, producer, count] = args as [string, Queue<number>, number, number];
  for (let i = 0; i < count; i++) queue.put(producer * 2 ** 20 + i);
} else {
  const queue = args[1] as JoinableQueue<number>;
  let count = 0;
  let sum = 0;
  let fifo = true;
  const last = new Map<number, number>();
  for (;;) {
    let value: number;
    try {
      value = queue.get();
    } catch (error) {
      if (error instanceof QueueClosedError) break;
      throw error;
    }
    const producer = Math.floor(value / 2 ** 20);
    const index = value % 2 ** 20;
    if ((last.get(producer) ?? -1) >= index) fifo = false;
    last.set(producer, index);
    count++;
    sum += value;
    if (role === "work") queue.taskDone();
  }
  console.log(JSON.stringify({ count, sum, fifo }));
}
