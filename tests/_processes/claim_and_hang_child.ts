/**
 * Child process: does what a producer does up to the middle of a `put` and
 * stops there — claims the slot at TAIL of a queue that has not wrapped,
 * records itself (its process owner id) as the claimer, writes half a number
 * message — then stores 1 in `ready` and sleeps until it is SIGKILLed.
 */
import type { Queue } from "../../primitives/queue.ts";
import type { SharedValue } from "../../primitives/shared_value.ts";
import { Queue as QueueClass } from "../../primitives/queue.ts";
import {
  claimedBy,
  SLOT_CLAIMER,
  SLOT_HEADER_CELLS,
  slotCells,
  SLOTS,
  TAIL,
} from "../../primitives/_queue_layout.ts";
import { readParam } from "../../primitives/_header.ts";
import { currentOwnerId } from "../../primitives/_owner.ts";
import { attachMemory } from "../../shm/attach.ts";
import { registerRevivable } from "../../workers/revive.ts";
import { processArgs } from "../../workers/process_handle.ts";

registerRevivable("Queue", QueueClass.from as never);
const [queue, ready] = processArgs() as [Queue<number>, SharedValue];
const memory = attachMemory(queue.handle.memory);
const cells = slotCells(readParam(memory, 1));
const tail = memory.load(TAIL);
const slot = SLOTS + tail * cells;
if (memory.load(slot) !== tail || memory.compareExchange(TAIL, tail, tail + 1) !== tail) {
  throw new Error("claim_and_hang_child: the queue changed under the test");
}
memory.store(slot + SLOT_CLAIMER, claimedBy(currentOwnerId()));
memory.store(slot + SLOT_HEADER_CELLS, 0x7ff80000); // half a float64
ready.store(1);
setInterval(() => {}, 1_000); // until killed
