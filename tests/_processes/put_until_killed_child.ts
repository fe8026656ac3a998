/**
 * Child process: puts messages 0, 1, 2... into the queue as fast as it can,
 * and after each `put` returns records how many have returned in `acked`.
 * The parent kills it with SIGKILL at some point, usually inside a `put`.
 * Message i: 200 bytes, i in the first 4 (LE), then a pattern of i, then a
 * checksum of bytes 0..195 in the last 4.
 */
import type { Queue } from "../../primitives/queue.ts";
import type { SharedValue } from "../../primitives/shared_value.ts";
import { Queue as QueueClass } from "../../primitives/queue.ts";
import { registerRevivable } from "../../workers/revive.ts";
import { processArgs } from "../../workers/process_handle.ts";
import { message } from "./put_messages.ts";

registerRevivable("Queue", QueueClass.from as never);
const [queue, acked] = processArgs() as [Queue<Uint8Array>, SharedValue];
for (let i = 0;; i++) {
  queue.put(message(i));
  acked.store(i + 1);
}
