import assert from "node:assert/strict";
import { JoinableQueue, type JoinableQueueHandle } from "../primitives/joinable_queue.ts";
import { Queue } from "../primitives/queue.ts";
import {
  LayoutError,
  QueueClosedError,
  QueueEmptyError,
  QueueFullError,
  TaskDoneError,
} from "../primitives/errors.ts";
import { timed, WorkerGroup } from "./_helpers.ts";
import { SLOT_COUNTED, SLOTS, UNFINISHED } from "../primitives/_queue_layout.ts";
import { currentOwnerId, setCurrentOwnerId } from "../primitives/_owner.ts";
import { markOwnerDead, registerOwner } from "../shm/liveness.ts";
import { type Hook, hookedView, memoryOf, numberCodec } from "./_hooked_memory.ts";

const TASKS = new URL("./_tasks/joinable_queue_tasks.ts", import.meta.url);

Deno.test("JoinableQueue: put counts, taskDone uncounts, join returns at 0 (JQ-1, JQ-3)", () => {
  const q = new JoinableQueue<number>(4, { codec: "number" });
  assert.ok(q instanceof Queue);
  assert.equal(q.join(), true, "join with nothing put returns at once");
  assert.equal(q.join({ timeout: 0 }), true);
  q.put(1);
  q.put(2);
  assert.equal(q.unfinishedTasks, 2);
  assert.equal(q.get(), 1);
  assert.equal(q.unfinishedTasks, 2, "get does not change the count");
  q.taskDone();
  assert.equal(q.join({ timeout: 10 }), false);
  q.get();
  q.taskDone();
  assert.equal(q.unfinishedTasks, 0);
  assert.equal(q.join(), true);
});

Deno.test("JoinableQueue: taskDone too many times throws and leaves the count (JQ-2)", () => {
  const q = new JoinableQueue(2);
  assert.throws(() => q.taskDone(), TaskDoneError, "on a fresh queue");
  q.put("a");
  q.taskDone();
  assert.throws(() => q.taskDone(), TaskDoneError);
  assert.equal(q.unfinishedTasks, 0);
  q.put("b");
  assert.equal(q.unfinishedTasks, 1, "usable afterwards");
});

Deno.test("JoinableQueue: the count follows put, not get (JQ-4)", async () => {
  const q = new JoinableQueue(2);
  q.put(1);
  q.taskDone(); // accepted before anyone called get, as in Python
  assert.equal(q.join({ timeout: 0 }), true);
  assert.equal(await q.joinAsync(), true);
  assert.equal(q.qsize(), 1, "the item is still queued");
});

Deno.test("JoinableQueue: failed puts are not counted", async () => {
  const q = new JoinableQueue<number>(1, { codec: "number" });
  q.put(1);
  assert.throws(() => q.putNowait(2), QueueFullError);
  assert.throws(() => q.put(2, { timeout: 5 }), QueueFullError);
  await assert.rejects(q.putAsync(2, { timeout: 5 }), QueueFullError);
  assert.throws(() => q.put("x" as unknown as number), TypeError);
  assert.equal(q.unfinishedTasks, 1);
  q.close();
  assert.throws(() => q.put(3), QueueClosedError);
  assert.equal(q.unfinishedTasks, 1);
  q.get();
  q.taskDone();
  assert.equal(q.join({ timeout: 0 }), true);
});

Deno.test("JoinableQueue: a put still waiting for room is not counted yet", async () => {
  const q = new JoinableQueue<number>(1, { codec: "number" });
  q.put(1);
  const waiting = q.putAsync(2, { timeout: 200 });
  // Python counts a put once the item is in the queue: 1, not 2.
  assert.equal(q.unfinishedTasks, 1);
  q.taskDone();
  assert.throws(() => q.taskDone(), TaskDoneError, "a waiting put cannot be marked done");
  assert.equal(q.unfinishedTasks, 0);
  await assert.rejects(waiting, QueueFullError);
  assert.equal(q.unfinishedTasks, 0, "the failed put left no trace");
  assert.equal(q.get(), 1);
  q.put(3);
  assert.equal(q.unfinishedTasks, 1);
  assert.equal(q.join({ timeout: 20 }), false, "join waits for 3");
  // A put that waited and then got in is counted once, when it got in.
  const late = q.putAsync(4, { timeout: 5_000 });
  assert.equal(q.unfinishedTasks, 1);
  assert.equal(q.get(), 3);
  await late;
  assert.equal(q.unfinishedTasks, 2);
  assert.equal(q.get(), 4);
  q.taskDone();
  q.taskDone();
  assert.equal(q.join({ timeout: 0 }), true);
});

Deno.test("JoinableQueue: join timeouts (JQ-5: the port adds one) and AbortSignal", async () => {
  const q = new JoinableQueue(2);
  q.put(1);
  const [joined, ms] = await timed(() => q.join({ timeout: 50 }));
  assert.equal(joined, false);
  assert.ok(ms >= 49 && ms < 550, `join timeout took ${ms} ms`);
  const [joinedA, msA] = await timed(() => q.joinAsync({ timeout: 30 }));
  assert.equal(joinedA, false);
  assert.ok(msA >= 29 && msA < 530, `joinAsync timeout took ${msA} ms`);
  const c = new AbortController();
  const pending = q.joinAsync({ signal: c.signal });
  c.abort(new Error("stop"));
  await assert.rejects(pending, /stop/);
  const waiting = q.joinAsync({ timeout: 5000 });
  q.taskDone();
  assert.equal(await waiting, true);
});

Deno.test("JoinableQueue: handles revive only as JoinableQueue", () => {
  const q = new JoinableQueue<number>(2, { codec: "number" });
  const again = JoinableQueue.from<number>(q.handle);
  again.put(5);
  assert.equal(q.unfinishedTasks, 1);
  assert.equal(q.get(), 5);
  assert.throws(
    () => JoinableQueue.from(new Queue(1).handle as unknown as JoinableQueueHandle),
    LayoutError,
  );
});

Deno.test({
  name:
    "JoinableQueue: Python's docs program - 3 producers, 2 consumers, main joins; each item once",
  timeout: 60_000,
  async fn() {
    using group = new WorkerGroup();
    const perProducer = 20_000;
    const q = new JoinableQueue<number>(64, { codec: "number" });
    const processed = new Int32Array(new SharedArrayBuffer(3 * perProducer * 4));
    const workers = [
      group.run<number>(TASKS, "worker", q.handle, processed),
      group.run<number>(TASKS, "worker", q.handle, processed),
    ];
    await Promise.all(
      [0, 1, 2].map((p) => group.run(TASKS, "produce", q.handle, p * perProducer, perProducer)),
    );
    assert.equal(await q.joinAsync({ timeout: 30_000 }), true);
    // join returned: every item put has been processed, exactly once.
    let bad = 0;
    for (let i = 0; i < processed.length; i++) if (Atomics.load(processed, i) !== 1) bad++;
    assert.equal(bad, 0);
    assert.equal(q.unfinishedTasks, 0);
    q.close();
    const counts = await Promise.all(workers);
    assert.equal(counts[0] + counts[1], 3 * perProducer);
  },
});

Deno.test({
  name: "JoinableQueue: a worker's join wakes when the main thread finishes the tasks",
  timeout: 30_000,
  async fn() {
    using group = new WorkerGroup();
    const q = new JoinableQueue(4);
    q.put("task");
    const joiner = group.run<[boolean, number]>(TASKS, "joinFromWorker", q.handle, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 20));
    q.get();
    q.taskDone();
    const [joined, ms] = await joiner;
    assert.equal(joined, true);
    assert.ok(ms < 9_000);
  },
});

Deno.test("JoinableQueue: a put recovered under a producer reported dead while it still runs is counted once", () => {
  const queue = new JoinableQueue<number>(4, { codec: "number" });
  const raw = memoryOf(queue);
  let hook: Hook;
  const producer = new JoinableQueue<number>(hookedView(raw, () => hook), numberCodec);
  const main = currentOwnerId();
  const id = registerOwner();
  hook = (op, args) => {
    if (op !== "add" || args[0] !== UNFINISHED || args[1] !== 1) return;
    hook = undefined;
    // The producer has claimed slot 0 and is about to count its put: it is
    // reported dead, and a consumer recovers the slot before the count.
    markOwnerDead(id);
    setCurrentOwnerId(main);
    assert.throws(() => queue.getNowait(), QueueEmptyError);
    setCurrentOwnerId(id);
  };
  setCurrentOwnerId(id);
  try {
    producer.put(42); // its publish fails; it puts again in a fresh slot
  } finally {
    setCurrentOwnerId(main);
  }
  assert.equal(queue.qsize(), 1);
  assert.equal(queue.unfinishedTasks, 1, "one item, counted once");
  assert.equal(raw.load(SLOTS + SLOT_COUNTED), 0, "no stale mark left in the recovered slot");
  assert.equal(queue.get(), 42);
  queue.taskDone();
  assert.equal(queue.join({ timeout: 100 }), true);
});
