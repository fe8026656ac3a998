/**
 * Queue and JoinableQueue scenarios for the schedule explorer: every item is
 * delivered exactly once, each producer's items in the order it put them; a
 * consumer blocked on an empty queue or a producer blocked on a full one is
 * always woken (a lost wake-up shows as a deadlock).
 */
import { JoinableQueue, type JoinableQueueHandle } from "../../../primitives/joinable_queue.ts";
import { Queue, type QueueHandle } from "../../../primitives/queue.ts";
import { QueueClosedError } from "../../../primitives/errors.ts";
import { checkingAllocator } from "../../../shm/checking/checking_memory.ts";
import type { Scenario } from "../../../shm/checking/controller.ts";

const allocate = checkingAllocator;

interface QueueState {
  queue: QueueHandle;
  producers: number;
  perProducer: number;
  consumers: number;
  nowait: boolean;
}

/** Item `k` of producer `p`. */
function item(p: number, k: number): number {
  return p * 100 + k;
}

/** Puts `perProducer` items (blocking `put`, or `putNowait` retried). */
export function queueProducer(state: QueueState, thread: number): number {
  const queue = Queue.from<number>(state.queue);
  for (let k = 0; k < state.perProducer; k++) {
    if (state.nowait && k % 2 === 1) {
      for (;;) {
        try {
          queue.putNowait(item(thread, k));
          break;
        } catch (err) {
          if ((err as Error).name !== "QueueFullError") throw err;
          queue.put(item(thread, k), { timeout: 2 });
          break;
        }
      }
    } else {
      queue.put(item(thread, k));
    }
  }
  return state.perProducer;
}

/** Gets its share of the items (blocking `get`); returns them in order. */
export function queueConsumer(state: QueueState, thread: number): number[] {
  const queue = Queue.from<number>(state.queue);
  const total = state.producers * state.perProducer;
  const consumer = thread - state.producers;
  const share = Math.floor(total / state.consumers) +
    (consumer < total % state.consumers ? 1 : 0);
  const got: number[] = [];
  for (let i = 0; i < share; i++) {
    if (state.nowait && i % 2 === 1) {
      try {
        got.push(queue.getNowait());
        continue;
      } catch (err) {
        if ((err as Error).name !== "QueueEmptyError") throw err;
      }
    }
    got.push(queue.get());
  }
  return got;
}

/** Checks exactly-once delivery and per-producer order. */
export function checkDelivery(producers: number, perProducer: number, received: number[][]): void {
  const all = received.flat().sort((a, b) => a - b);
  const expected: number[] = [];
  for (let p = 0; p < producers; p++) {
    for (let k = 0; k < perProducer; k++) expected.push(item(p, k));
  }
  expected.sort((a, b) => a - b);
  if (all.join() !== expected.join()) {
    throw new Error(`delivered ${all.join(",")}; put ${expected.join(",")}`);
  }
  for (const got of received) {
    for (let p = 0; p < producers; p++) {
      const mine = got.filter((v) => Math.floor(v / 100) === p);
      for (let i = 1; i < mine.length; i++) {
        if (mine[i] < mine[i - 1]) throw new Error(`producer ${p} out of order: ${got.join(",")}`);
      }
    }
  }
}

/** `producers` producers and `consumers` consumers through a queue of `capacity`. */
export function queueScenario(
  producers: number,
  consumers: number,
  perProducer: number,
  capacity: number,
  nowait: boolean = false,
): Scenario<QueueState> {
  return {
    name: `Queue(${capacity}) ${producers}P x ${perProducer} / ${consumers}C${
      nowait ? " nowait" : ""
    }`,
    module: import.meta.url,
    threads: [
      ...Array(producers).fill("queueProducer"),
      ...Array(consumers).fill("queueConsumer"),
    ],
    setup: () => ({
      queue: new Queue<number>(capacity, { allocate, codec: "number" }).handle,
      producers,
      perProducer,
      consumers,
      nowait,
    }),
    check: (state, results) => {
      checkDelivery(producers, perProducer, results.slice(producers) as number[][]);
      const left = Queue.from<number>(state.queue).qsize();
      if (left !== 0) throw new Error(`${left} items left in the queue`);
    },
  };
}

interface CloseState {
  queue: QueueHandle;
  perProducer: number;
}

/** Puts its items, then closes the queue. */
export function closingProducer(state: CloseState): number {
  const queue = Queue.from<number>(state.queue);
  for (let k = 0; k < state.perProducer; k++) queue.put(item(0, k));
  queue.close();
  return state.perProducer;
}

/** Gets until the queue is closed and drained. */
export function drainingConsumer(state: CloseState): number[] {
  const queue = Queue.from<number>(state.queue);
  const got: number[] = [];
  for (;;) {
    try {
      got.push(queue.get());
    } catch (err) {
      if (err instanceof QueueClosedError) return got;
      throw err;
    }
  }
}

/** A producer closes after its puts; two consumers drain: nothing lost, both end. */
export function closeScenario(perProducer: number, capacity: number): Scenario<CloseState> {
  return {
    name: `Queue(${capacity}) close while 2 consumers drain ${perProducer} items`,
    module: import.meta.url,
    threads: ["closingProducer", "drainingConsumer", "drainingConsumer"],
    setup: () => ({
      queue: new Queue<number>(capacity, { allocate, codec: "number" }).handle,
      perProducer,
    }),
    check: (_state, results) => checkDelivery(1, perProducer, results.slice(1) as number[][]),
  };
}

interface JoinState {
  queue: JoinableQueueHandle;
  items: number;
}

/** Puts the items, then joins: join returns only after every taskDone. */
export function joiningProducer(state: JoinState): number {
  const queue = JoinableQueue.from<number>(state.queue);
  for (let k = 0; k < state.items; k++) queue.put(item(0, k));
  queue.join();
  return queue.unfinishedTasks;
}

/** Takes items and marks each done. */
export function taskConsumer(state: JoinState, thread: number): number[] {
  const queue = JoinableQueue.from<number>(state.queue);
  const share = thread === 1 ? Math.ceil(state.items / 2) : Math.floor(state.items / 2);
  const got: number[] = [];
  for (let i = 0; i < share; i++) {
    got.push(queue.get());
    queue.taskDone();
  }
  return got;
}

/** JoinableQueue: join() returns, with no unfinished task, once consumers are done. */
export function joinScenario(items: number, capacity: number): Scenario<JoinState> {
  return {
    name: `JoinableQueue(${capacity}) join after ${items} tasks`,
    module: import.meta.url,
    threads: ["joiningProducer", "taskConsumer", "taskConsumer"],
    setup: () => ({
      queue: new JoinableQueue<number>(capacity, { allocate, codec: "number" }).handle,
      items,
    }),
    check: (_state, results) => {
      if (results[0] !== 0) throw new Error(`join returned with ${results[0]} unfinished tasks`);
      checkDelivery(1, items, results.slice(1) as number[][]);
    },
  };
}

/** Puts items until the queue is closed under it; returns the items whose put returned. */
export function putUntilClosed(state: CloseState): number[] {
  const queue = Queue.from<number>(state.queue);
  const put: number[] = [];
  for (let k = 0; k < state.perProducer; k++) {
    try {
      queue.put(item(0, k));
      put.push(item(0, k));
    } catch (err) {
      if (err instanceof QueueClosedError) return put;
      throw err;
    }
  }
  return put;
}

/** Takes one item, closes the queue, then drains it. */
export function getThenClose(state: CloseState): number[] {
  const queue = Queue.from<number>(state.queue);
  const got = [queue.get()];
  queue.close();
  for (;;) {
    try {
      got.push(queue.get());
    } catch (err) {
      if (err instanceof QueueClosedError) return got;
      throw err;
    }
  }
}

/**
 * The consumer closes the queue while the producer may be blocked on a full
 * queue: exactly the items whose put returned are delivered (a put that
 * threw QueueClosedError delivers nothing), in order.
 */
export function closeBlockedPutScenario(
  perProducer: number,
  capacity: number,
): Scenario<CloseState> {
  return {
    name: `Queue(${capacity}) closed under a blocked producer (${perProducer} items)`,
    module: import.meta.url,
    threads: ["putUntilClosed", "getThenClose"],
    setup: () => ({
      queue: new Queue<number>(capacity, { allocate, codec: "number" }).handle,
      perProducer,
    }),
    check: (_state, results) => {
      const [put, got] = results as number[][];
      if (put.join() !== got.join()) {
        throw new Error(`put returned for ${put.join(",")} but delivered ${got.join(",")}`);
      }
    },
  };
}

/** Gets its share with `getAsync`. */
export async function queueConsumerAsync(state: QueueState, thread: number): Promise<number[]> {
  const queue = Queue.from<number>(state.queue);
  const total = state.producers * state.perProducer;
  const share = Math.floor(total / state.consumers) +
    (thread - state.producers < total % state.consumers ? 1 : 0);
  const got: number[] = [];
  for (let i = 0; i < share; i++) got.push(await queue.getAsync());
  return got;
}

/** Producers with `put`, one consumer with `getAsync`. */
export function queueAsyncScenario(perProducer: number, capacity: number): Scenario<QueueState> {
  return {
    ...queueScenario(2, 1, perProducer, capacity),
    name: `Queue(${capacity}) 2P x ${perProducer} / 1C getAsync`,
    threads: ["queueProducer", "queueProducer", "queueConsumerAsync"],
  };
}
