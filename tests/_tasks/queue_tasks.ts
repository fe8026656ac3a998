/** Functions run inside workers by tests/queue_test.ts. */
import { Queue, type QueueHandle } from "../../primitives/queue.ts";
import { QueueClosedError } from "../../primitives/errors.ts";
import {
  claimedBy,
  SLOT_CLAIMER,
  SLOT_COUNTED,
  SLOT_HEADER_CELLS,
  SLOT_LENGTH,
  slotCells,
  SLOTS,
  TAIL,
  UNFINISHED,
} from "../../primitives/_queue_layout.ts";
import { readParam } from "../../primitives/_header.ts";
import { currentOwnerId } from "../../primitives/_owner.ts";
import { attachMemory } from "../../shm/attach.ts";
// The worker side of WorkerProcess (claimAndHang and putUntilKilled run in one).
import "../../workers/worker_process.ts";

/** Items are `producer * STRIDE + seq`, so a consumer can tell who put what. */
export const STRIDE = 1 << 24;

/** Puts `count` numbered items; returns how many it put. */
export function produce(handle: QueueHandle, producer: number, count: number): number {
  const queue = Queue.from<number>(handle);
  const base = producer * STRIDE;
  for (let i = 0; i < count; i++) queue.put(base + i);
  return count;
}

/** Puts items in batches with putMany. */
export function produceMany(handle: QueueHandle, producer: number, count: number): number {
  const queue = Queue.from<number>(handle);
  const base = producer * STRIDE;
  const batch: number[] = [];
  for (let i = 0; i < count; i++) {
    batch.push(base + i);
    if (batch.length === 64 || i === count - 1) {
      queue.putMany(batch);
      batch.length = 0;
    }
  }
  return count;
}

/**
 * Takes items until the queue is closed and drained. Marks each one in
 * `seen` (one byte per item per producer, incremented atomically), checks
 * that each producer's items arrive in increasing order here, and returns
 * [count, sum of seqs, order violations].
 */
export function consume(
  handle: QueueHandle,
  producers: number,
  perProducer: number,
  seen: Uint8Array,
  useMany: boolean,
): [number, number, number] {
  const queue = Queue.from<number>(handle);
  const last = new Array<number>(producers).fill(-1);
  let count = 0;
  let sum = 0;
  let violations = 0;
  const take = (item: number) => {
    const producer = Math.floor(item / STRIDE);
    const seq = item - producer * STRIDE;
    if (seq <= last[producer]) violations++;
    last[producer] = seq;
    Atomics.add(seen, producer * perProducer + seq, 1);
    count++;
    sum += seq;
  };
  try {
    for (;;) {
      if (useMany) {
        for (const item of queue.getMany(128)) take(item);
      } else {
        take(queue.get());
      }
    }
  } catch (err) {
    if (!(err instanceof QueueClosedError)) throw err;
  }
  return [count, sum, violations];
}

/** Signals `flag[0]++` then blocks in get(); returns the error name it ended with. */
export function blockedGet(handle: QueueHandle, flag: Int32Array): string {
  const queue = Queue.from(handle);
  Atomics.add(flag, 0, 1);
  Atomics.notify(flag, 0);
  try {
    queue.get();
    return "got an item";
  } catch (err) {
    return (err as Error).name;
  }
}

/** Signals, then blocks in put() on a full queue; returns the error name. */
export function blockedPut(handle: QueueHandle, flag: Int32Array): string {
  const queue = Queue.from<number>(handle);
  Atomics.add(flag, 0, 1);
  Atomics.notify(flag, 0);
  try {
    queue.put(1);
    return "put";
  } catch (err) {
    return (err as Error).name;
  }
}

/** get() with a timeout on an empty queue: [error name, elapsed ms]. */
export function timedGet(handle: QueueHandle, timeout: number): [string, number] {
  const queue = Queue.from(handle);
  const start = performance.now();
  try {
    queue.get({ timeout });
    return ["got", performance.now() - start];
  } catch (err) {
    return [(err as Error).name, performance.now() - start];
  }
}

/** Answers each item of `ping` with the same item on `pong`, `n` times. */
export function echo(ping: QueueHandle, pong: QueueHandle, n: number): number {
  const input = Queue.from(ping);
  const output = Queue.from(pong);
  for (let i = 0; i < n; i++) output.put(input.get());
  return n;
}

/** Puts the values given, in order (any codec). */
export function putAll(handle: QueueHandle, values: unknown[]): number {
  const queue = Queue.from(handle);
  for (const value of values) queue.put(value);
  return values.length;
}

/** Gets `n` values (any codec). */
export function getAll(handle: QueueHandle, n: number): unknown[] {
  const queue = Queue.from(handle);
  const out: unknown[] = [];
  for (let i = 0; i < n; i++) out.push(queue.get({ timeout: 10_000 }));
  return out;
}

/**
 * Does what a producer does up to the middle of a `put` and stops there:
 * names itself in the slot at TAIL, claims it (for a JoinableQueue, counts
 * the put and marks the slot counted), writes half a number message — or, with `stage` "written", all
 * of it and its length, stopping just before the publish; with "named", it
 * stops after naming itself, before the claim — then signals `ready[0] = 1`
 * and blocks forever, so that the test can kill it there. Follows
 * `Queue.#claimWrite` step by step. Works on a queue that has not wrapped.
 */
export function claimAndHang(
  queue: Queue,
  ready: Int32Array,
  stage: "claimed" | "written" | "named" = "claimed",
): never {
  const handle = queue.handle; // WorkerProcess revives queues in args
  const memory = attachMemory(handle.memory);
  const cells = slotCells(readParam(memory, 1));
  const tail = memory.load(TAIL);
  const slot = SLOTS + tail * cells;
  if (
    memory.load(slot) !== tail ||
    memory.compareExchange(slot + SLOT_CLAIMER, 0, claimedBy(currentOwnerId())) !== 0 ||
    (stage !== "named" && memory.compareExchange(TAIL, tail, tail + 1) !== tail)
  ) {
    throw new Error("claimAndHang: the queue changed under the test");
  }
  if (stage !== "named" && handle.kind === "JoinableQueue") {
    memory.add(UNFINISHED, 1); // counted between the claim and the publish
    memory.store(slot + SLOT_COUNTED, tail | 0x80000000); // the lap's counted mark
  }
  if (stage !== "named") memory.store(slot + SLOT_HEADER_CELLS, 0x7ff80000); // half a float64
  if (stage === "written") {
    memory.store(slot + SLOT_HEADER_CELLS + 1, 0);
    memory.store(slot + SLOT_LENGTH, 8);
  }
  Atomics.store(ready, 0, 1);
  Atomics.notify(ready, 0);
  for (;;) Atomics.wait(ready, 1, 0); // until killed
}

/** Puts numbers 0, 1, 2... as bytes messages; after each put returns, `acked[0] = i + 1`. */
export function putUntilKilled(queue: Queue<Uint8Array>, acked: Int32Array): never {
  const message = new Uint8Array(200);
  const view = new DataView(message.buffer);
  for (let i = 0;; i++) {
    view.setUint32(0, i, true);
    message.fill(i & 0xff, 4, 196);
    view.setUint32(196, i ^ 0x5a5a5a5a, true);
    queue.put(message);
    Atomics.store(acked, 0, i + 1);
  }
}
