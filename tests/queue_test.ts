import assert from "node:assert/strict";
import {
  claimedBy,
  SLOT_CLAIMER,
  SLOT_HEADER_CELLS,
  SLOTS,
  TAIL,
} from "../primitives/_queue_layout.ts";
import { currentOwnerId, setCurrentOwnerId } from "../primitives/_owner.ts";
import { markOwnerDead, registerOwner } from "../shm/liveness.ts";
import { Queue, type QueueHandle } from "../primitives/queue.ts";
import { JoinableQueue } from "../primitives/joinable_queue.ts";
import { Mutex } from "../primitives/mutex.ts";
import {
  LayoutError,
  MessageCorruptError,
  QueueClosedError,
  QueueEmptyError,
  QueueFullError,
} from "../primitives/errors.ts";
import type { Codec } from "../shm/codec.ts";
import { type Hook, hookedView, memoryOf, numberCodec } from "./_hooked_memory.ts";
import { timed, WorkerGroup } from "./_helpers.ts";
import { WorkerProcess } from "../workers/worker_process.ts";

const TASKS = new URL("./_tasks/queue_tasks.ts", import.meta.url);

/** Python's timing rule, stricter: never early, at most `slack` ms late. */
function assertTimed(ms: number, timeout: number, what: string, slack = 500): void {
  assert.ok(ms >= timeout - 1, `${what} returned early: ${ms} ms < ${timeout} ms`);
  assert.ok(ms < timeout + slack, `${what} returned late: ${ms} ms`);
}

Deno.test("Queue: FIFO, qsize 0→1→2→1→0, empty/full exact after put (Q-1, Q-7, Q-8)", () => {
  const q = new Queue<number>(2, { codec: "number" });
  assert.equal(q.qsize(), 0);
  assert.equal(q.empty(), true);
  q.put(1);
  assert.equal(q.empty(), false, "empty() is false as soon as put returned");
  assert.equal(q.qsize(), 1);
  q.put(2);
  assert.equal(q.qsize(), 2);
  assert.equal(q.full(), true);
  assert.equal(q.get(), 1);
  assert.equal(q.qsize(), 1);
  assert.equal(q.get(), 2);
  assert.equal(q.qsize(), 0);
  for (let lap = 0; lap < 50; lap++) {
    q.put(lap);
    q.put(-lap);
    assert.deepEqual([q.get(), q.get()], [lap, -lap]);
  }
  assert.equal(q.capacity, 2);
  assert.equal(q.codec, "number");
});

Deno.test("Queue: nowait forms and Full/Empty (Q-4, Q-5, Q-17)", async () => {
  const q = new Queue<string>(2, { codec: "string" });
  assert.throws(() => q.getNowait(), QueueEmptyError);
  q.putNowait("a");
  q.put("b", { timeout: -1 }); // negative: poll once, succeeds with room
  assert.throws(() => q.putNowait("c"), QueueFullError);
  const [, msFull] = await timed(() =>
    assert.throws(() => q.put("c", { timeout: -1 }), QueueFullError)
  );
  assert.ok(msFull < 20, `negative timeout polls once (${msFull} ms)`);
  assert.equal(q.qsize(), 2, "a failed put changes nothing");
  assert.equal(q.getNowait(), "a");
  assert.equal(q.get({ timeout: 0 }), "b");
  const [, msEmpty] = await timed(() =>
    assert.throws(() => q.get({ timeout: -1 }), QueueEmptyError)
  );
  assert.ok(msEmpty < 20, `negative timeout polls once (${msEmpty} ms)`);
});

Deno.test("Queue: timeouts are never early and bounded late (sync and async)", async () => {
  const q = new Queue<number>(1, { codec: "number" });
  let [, ms] = await timed(() => assert.throws(() => q.get({ timeout: 60 }), QueueEmptyError));
  assertTimed(ms, 60, "get");
  [, ms] = await timed(() => assert.rejects(q.getAsync({ timeout: 40 }), QueueEmptyError));
  assertTimed(ms, 40, "getAsync");
  q.put(1);
  [, ms] = await timed(() => assert.throws(() => q.put(2, { timeout: 60 }), QueueFullError));
  assertTimed(ms, 60, "put");
  [, ms] = await timed(() => assert.rejects(q.putAsync(2, { timeout: 40 }), QueueFullError));
  assertTimed(ms, 40, "putAsync");
  assert.equal(q.qsize(), 1);
  assert.equal(q.get(), 1);
});

Deno.test({
  name: "Queue: a worker's timed get on an empty queue times out in bounds",
  timeout: 30_000,
  async fn() {
    using group = new WorkerGroup();
    const q = new Queue(4);
    const [name, ms] = await group.run<[string, number]>(TASKS, "timedGet", q.handle, 100);
    assert.equal(name, "QueueEmptyError");
    assertTimed(ms, 100, "worker get");
  },
});

Deno.test("Queue: getAsync/putAsync honour AbortSignal and steal no wake-up", async () => {
  const q = new Queue<number>(1, { codec: "number" });
  const controller = new AbortController();
  const pending = q.getAsync({ signal: controller.signal });
  controller.abort(new Error("stop"));
  await assert.rejects(pending, /stop/);
  await assert.rejects(q.getAsync({ signal: AbortSignal.abort(new Error("already")) }), /already/);
  const waiter = q.getAsync({ timeout: 5_000 });
  q.put(42);
  assert.equal(await waiter, 42, "the live waiter got the item");
  q.put(1);
  const c2 = new AbortController();
  const blockedPut = q.putAsync(2, { signal: c2.signal });
  c2.abort(new Error("no room"));
  await assert.rejects(blockedPut, /no room/);
  assert.equal(q.qsize(), 1, "an aborted put puts nothing");
  assert.equal(q.get(), 1);
});

Deno.test("Queue: close - put throws, consumers drain then get QueueClosedError (Q-9, Q-11)", async () => {
  const q = new Queue<number>(4, { codec: "number" });
  q.put(1);
  q.put(2);
  q.close();
  q.close(); // twice is a no-op
  assert.equal(q.closed, true);
  assert.throws(() => q.put(3), QueueClosedError);
  assert.throws(() => q.putNowait(3), QueueClosedError);
  await assert.rejects(q.putAsync(3), QueueClosedError);
  assert.equal(q.qsize(), 2, "puts after close leave nothing behind");
  assert.equal(q.get(), 1);
  assert.equal(q.getNowait(), 2);
  assert.throws(() => q.get(), QueueClosedError, "no hang once drained");
  assert.throws(() => q.getNowait(), QueueClosedError);
  await assert.rejects(q.getAsync(), QueueClosedError);
  const iterated: number[] = [];
  for await (const n of q) iterated.push(n);
  assert.deepEqual(iterated, []);
});

Deno.test("Queue: for await ends at close after the last item", async () => {
  const q = new Queue<string>(8, { codec: "string" });
  const seen: string[] = [];
  const loop = (async () => {
    for await (const s of q) seen.push(s);
  })();
  for (const s of ["a", "b", "c"]) await q.putAsync(s);
  q.close();
  await loop;
  assert.deepEqual(seen, ["a", "b", "c"]);
});

Deno.test({
  name: "Queue: close wakes consumers blocked in workers and on the main thread",
  timeout: 30_000,
  async fn() {
    using group = new WorkerGroup();
    const q = new Queue(2);
    const flag = new Int32Array(new SharedArrayBuffer(4));
    const blocked = [
      group.run<string>(TASKS, "blockedGet", q.handle, flag),
      group.run<string>(TASKS, "blockedGet", q.handle, flag),
    ];
    const mainWaiter = q.getAsync().then(() => "got", (e: Error) => e.name);
    while (Atomics.load(flag, 0) < 2) {
      await Atomics.waitAsync(flag, 0, Atomics.load(flag, 0), 1000).value;
    }
    q.close();
    assert.deepEqual(await Promise.all(blocked), ["QueueClosedError", "QueueClosedError"]);
    assert.equal(await mainWaiter, "QueueClosedError");
  },
});

Deno.test({
  name: "Queue: a put blocked on a full queue wakes on get (Q-6) and on close",
  timeout: 30_000,
  async fn() {
    using group = new WorkerGroup();
    const q = new Queue<number>(1, { codec: "number" });
    q.put(0);
    const flag = new Int32Array(new SharedArrayBuffer(4));
    const putter = group.run<string>(TASKS, "blockedPut", q.handle, flag);
    await Atomics.waitAsync(flag, 0, 0, 5000).value;
    assert.equal(await q.getAsync(), 0);
    assert.equal(await putter, "put");
    assert.equal(await q.getAsync({ timeout: 5000 }), 1);
    q.put(0);
    const flag2 = new Int32Array(new SharedArrayBuffer(4));
    const putter2 = group.run<string>(TASKS, "blockedPut", q.handle, flag2);
    await Atomics.waitAsync(flag2, 0, 0, 5000).value;
    q.close();
    assert.equal(await putter2, "QueueClosedError");
    assert.equal(q.get(), 0, "the item put before close is still there");
  },
});

Deno.test({
  name: "Queue: capacity-1 queue between workers keeps order and loses nothing",
  timeout: 60_000,
  async fn() {
    using group = new WorkerGroup();
    const q = new Queue<number>(1, { codec: "number" });
    const n = 20_000;
    const seen = new Uint8Array(new SharedArrayBuffer(n));
    const consumer = group.run<[number, number, number]>(
      TASKS,
      "consume",
      q.handle,
      1,
      n,
      seen,
      false,
    );
    await group.run(TASKS, "produce", q.handle, 0, n);
    q.close();
    const [count, sum, violations] = await consumer;
    assert.equal(count, n);
    assert.equal(sum, (n * (n - 1)) / 2);
    assert.equal(violations, 0);
    assert.ok(seen.every((v) => v === 1));
  },
});

Deno.test({
  name: "Queue: 2 producers x 2 consumers move 1,000,000 items exactly once, FIFO per producer",
  timeout: 120_000,
  async fn() {
    using group = new WorkerGroup();
    const perProducer = 500_000;
    const q = new Queue<number>(1024, { codec: "number" });
    const seen = new Uint8Array(new SharedArrayBuffer(2 * perProducer));
    const consumers = [
      group.run<[number, number, number]>(TASKS, "consume", q.handle, 2, perProducer, seen, false),
      group.run<[number, number, number]>(TASKS, "consume", q.handle, 2, perProducer, seen, true),
    ];
    await Promise.all([
      group.run(TASKS, "produce", q.handle, 0, perProducer),
      group.run(TASKS, "produceMany", q.handle, 1, perProducer),
    ]);
    q.close();
    const results = await Promise.all(consumers);
    const count = results.reduce((a, r) => a + r[0], 0);
    const sum = results.reduce((a, r) => a + r[1], 0);
    assert.equal(count, 2 * perProducer, "no loss, no duplicate (count)");
    assert.equal(sum, 2 * (perProducer * (perProducer - 1)) / 2, "checksum");
    assert.equal(results[0][2] + results[1][2], 0, "FIFO per producer at each consumer");
    let bad = 0;
    for (let i = 0; i < seen.length; i++) if (seen[i] !== 1) bad++;
    assert.equal(bad, 0, "every item seen exactly once");
    assert.equal(q.qsize(), 0);
  },
});

Deno.test({
  name: "Queue: codecs carry their values across workers (structured, json, string, bytes)",
  timeout: 60_000,
  async fn() {
    using group = new WorkerGroup();
    const structured = new Queue(16);
    const values = [
      { a: 1, nested: [1, 2, { b: "x" }] },
      new Map([[1, "one"]]),
      new Set(["s"]),
      new Date(0),
      10n,
      undefined,
      null,
      new Uint8Array([1, 2, 3]),
      "text",
      -0,
    ];
    await group.run(TASKS, "putAll", structured.handle, values.slice(0, 5));
    await group.run(TASKS, "putAll", structured.handle, values.slice(5));
    const got: unknown[] = [];
    for (let i = 0; i < values.length; i++) got.push(structured.get());
    assert.deepEqual(got, values);

    const json = new Queue(4, { codec: "json" });
    json.put({ id: 1, name: "ticket", ok: true });
    json.put([1, "two", null]);
    assert.deepEqual(await group.run(TASKS, "getAll", json.handle, 2), [
      { id: 1, name: "ticket", ok: true },
      [1, "two", null],
    ]);

    const strings = new Queue<string>(4, { codec: "string", maxMessageBytes: 64 });
    strings.put("héllo wörld ✓");
    strings.put("");
    assert.deepEqual(await group.run(TASKS, "getAll", strings.handle, 2), ["héllo wörld ✓", ""]);

    const bytes = new Queue<Uint8Array>(4, { codec: "bytes", maxMessageBytes: 8 });
    const whole = new Uint8Array([9, 8, 7, 6, 5, 4, 3, 2, 1]);
    bytes.put(whole.subarray(1)); // a view with an offset
    bytes.put(new Uint8Array(0));
    const [first, second] = await group.run<Uint8Array[]>(TASKS, "getAll", bytes.handle, 2);
    assert.deepEqual([...first], [8, 7, 6, 5, 4, 3, 2, 1]);
    assert.equal(second.length, 0);
  },
});

Deno.test("Queue: custom codec must be given again to from()", () => {
  const upper: Codec<string> = {
    name: "upper",
    encode: (s) => new TextEncoder().encode(s.toUpperCase()),
    decode: (b) => new TextDecoder().decode(b),
  };
  const q = new Queue<string>(2, { codec: upper });
  q.put("abc");
  assert.throws(() => Queue.from<string>(q.handle), LayoutError);
  assert.equal(Queue.from<string>(q.handle, { codec: upper }).get(), "ABC");
  const json = new Queue(2, { codec: "json" });
  assert.throws(() => Queue.from(json.handle, { codec: upper as Codec<unknown> }), LayoutError);
});

Deno.test("Queue: bad arguments are RangeError/TypeError and lose nothing", () => {
  assert.equal(new Queue().capacity, 1024, "the default capacity (never unbounded)");
  for (const capacity of [0, -1, 1.5, NaN, Infinity, 2 ** 30, null as unknown as number]) {
    assert.throws(() => new Queue(capacity), RangeError, `capacity ${capacity}`);
  }
  assert.throws(() => new Queue(1, { maxMessageBytes: -1 }), RangeError);
  assert.throws(() => new Queue(1, { maxMessageBytes: 1.5 }), RangeError);
  assert.throws(() => new Queue(1, { codec: "number", maxMessageBytes: 4 }), RangeError);
  assert.throws(() => new Queue(1, { codec: "nope" as "json" }), TypeError);
  assert.throws(() => new Queue(1, { codec: {} as Codec<unknown> }), TypeError);

  const exact = new Queue<string>(2, { codec: "string", maxMessageBytes: 5 });
  assert.equal(exact.maxMessageBytes, 5, "kept exactly, not rounded up to whole cells");
  assert.throws(() => exact.put("123456"), RangeError, "one byte over the limit");
  exact.put("12345");
  assert.equal(exact.get(), "12345");
  // putMany: an item that can never fit fails after the ones before it, and says how many.
  assert.throws(
    () => exact.putMany(["a", "123456", "c"]),
    (e: unknown) => e instanceof RangeError && /the item before it was put/.test(e.message),
  );
  assert.equal(exact.qsize(), 1);
  assert.equal(exact.get(), "a");
  assert.throws(() => exact.putMany(["123456"]), RangeError, "the first item: a plain RangeError");
  exact.put("12345");
  assert.equal(Queue.from<string>(exact.handle).get(), "12345", "the limit survives a revive");
  assert.throws(() => Queue.from<string>(exact.handle).put("123456"), RangeError);

  const q = new Queue<unknown>(1, { codec: "json", maxMessageBytes: 16 });
  assert.throws(() => q.put("x".repeat(100)), RangeError, "oversize: RangeError, not a hang");
  assert.throws(() => q.put("x".repeat(100), { timeout: 10 }), RangeError);
  assert.throws(() => q.put(undefined), TypeError, "no JSON form");
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.throws(() => q.put(cyclic), TypeError);
  assert.equal(q.qsize(), 0, "nothing was enqueued");
  q.put("ok"); // the queue (of capacity 1) is still usable
  assert.equal(q.get(), "ok");

  const s = new Queue(1);
  assert.throws(() => s.put(() => 1), TypeError, "functions cannot be cloned");
  assert.throws(() => s.put(Symbol("s")), TypeError);
  s.put({ fine: true });
  assert.deepEqual(s.get(), { fine: true });

  const n = new Queue<number>(1, { codec: "number" });
  assert.throws(() => n.put("1" as unknown as number), TypeError);
  assert.throws(() => n.getMany(0), RangeError);
});

Deno.test("Queue: reviving from foreign, wrong-kind or corrupted memory is a LayoutError", () => {
  const q = new Queue<number>(4, { codec: "number" });
  const h = q.handle;
  assert.throws(() => Queue.from(new Mutex().handle as unknown as QueueHandle), LayoutError);
  assert.throws(
    () => Queue.from(new JoinableQueue(2).handle),
    (e: unknown) => e instanceof LayoutError && e.problem === "wrong-kind",
  );
  assert.throws(() => Queue.from(null as unknown as QueueHandle), LayoutError);
  const foreign = new SharedArrayBuffer(h.memory.byteLength);
  assert.throws(
    () => Queue.from({ kind: "Queue", memory: { ...h.memory, buffer: foreign } }),
    (e: unknown) => e instanceof LayoutError && e.problem === "bad-magic",
  );
  const copy = new SharedArrayBuffer(h.memory.byteLength);
  new Uint8Array(copy).set(new Uint8Array(h.memory.buffer!, 0, h.memory.byteLength));
  new Int32Array(copy)[4] = 1000; // capacity param no longer matches the size
  assert.throws(
    () => Queue.from({ kind: "Queue", memory: { ...h.memory, buffer: copy } }),
    (e: unknown) => e instanceof LayoutError && e.problem === "bad-parameters",
  );
  new Int32Array(copy)[4] = 4;
  new Int32Array(copy)[6] = 99; // unknown codec id
  assert.throws(
    () => Queue.from({ kind: "Queue", memory: { ...h.memory, buffer: copy } }),
    (e: unknown) => e instanceof LayoutError && e.problem === "bad-parameters",
  );
});

Deno.test("Queue: a malformed message in memory is MessageCorruptError, never a wrong value", () => {
  const SLOTS = 80;
  const q = new Queue<unknown>(2, { codec: "json", maxMessageBytes: 16 });
  const cells = new Int32Array(q.handle.memory.buffer!);
  q.put({ a: 1 });
  cells[SLOTS + 1] = 1000; // slot 0's length, beyond the slot
  assert.throws(() => q.get(), MessageCorruptError);
  assert.equal(q.qsize(), 0, "the bad message is consumed");
  q.put({ b: 2 }); // slot 1
  const bytes = new Uint8Array(q.handle.memory.buffer!);
  const slot1Payload = (SLOTS + 16 + SLOT_HEADER_CELLS) * 4; // slots are padded to 16 cells
  bytes[slot1Payload] = 0x7b; // "{" stays, then garbage
  bytes[slot1Payload + 1] = 0xff; // not UTF-8
  assert.throws(() => q.get(), MessageCorruptError);
  q.put({ c: 3 });
  assert.deepEqual(q.get(), { c: 3 }, "the queue is usable afterwards");

  const n = new Queue<number>(1, { codec: "number" });
  n.put(1);
  new Int32Array(n.handle.memory.buffer!)[SLOTS + 1] = 4;
  assert.throws(() => n.get(), MessageCorruptError);
});

Deno.test({
  name: "Queue: ping-pong between two queues and a worker",
  timeout: 30_000,
  async fn() {
    using group = new WorkerGroup();
    const ping = new Queue<number>(1, { codec: "number" });
    const pong = new Queue<number>(1, { codec: "number" });
    const n = 2_000;
    const echo = group.run(TASKS, "echo", ping.handle, pong.handle, n);
    for (let i = 0; i < n; i++) {
      await ping.putAsync(i);
      assert.equal(await pong.getAsync({ timeout: 10_000 }), i);
    }
    assert.equal(await echo, n);
  },
});

// ------------------------------------------------------------ crash recovery

async function waitFlag(flag: Int32Array, p: WorkerProcess): Promise<void> {
  for (let i = 0; i < 1_000 && Atomics.load(flag, 0) === 0 && p.isAlive; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.equal(Atomics.load(flag, 0), 1, `the worker got there (exit code ${p.exitCode})`);
}

for (
  const [kind, stage] of [
    ["Queue", "claimed"],
    ["JoinableQueue", "claimed"],
    ["Queue", "written"], // message and length written, killed just before the publish
  ] as const
) {
  Deno.test({
    name: `${kind}: a producer worker killed between claim and publish does not wedge consumers${
      stage === "written" ? " (all written but the publish)" : ""
    }`,
    timeout: 30_000,
    async fn() {
      const queue = kind === "Queue"
        ? new Queue<number>(8, { codec: "number" })
        : new JoinableQueue<number>(8, { codec: "number" });
      queue.put(0);
      queue.put(1);
      const ready = new Int32Array(new SharedArrayBuffer(8));
      const p = new WorkerProcess({
        module: TASKS,
        fn: "claimAndHang",
        args: [queue, ready, stage],
      });
      p.start();
      try {
        await waitFlag(ready, p);
        queue.put(3); // behind the claimed slot
        queue.put(4);
        assert.equal(queue.get(), 0);
        assert.equal(queue.get(), 1);
        assert.ok(queue.stuckProducer() > 0, "the head slot names its live claimer");
        p.kill();
        await p.joinAsync();
        // The claimer is dead: the slot is skipped (never delivered), the rest arrives.
        assert.equal(queue.get({ timeout: 5_000 }), 3);
        assert.equal(queue.get({ timeout: 5_000 }), 4);
        assert.throws(() => queue.getNowait(), QueueEmptyError);
        assert.equal(queue.qsize(), 0);
        // The slot works again on the next lap.
        for (let i = 0; i < 20; i++) {
          queue.put(i);
          assert.equal(queue.get(), i);
        }
        if (queue instanceof JoinableQueue) {
          // The abandoned put is no longer counted as unfinished.
          assert.equal(queue.unfinishedTasks, 24);
          for (let i = 0; i < 24; i++) queue.taskDone();
          assert.equal(queue.join({ timeout: 1_000 }), true);
        }
      } finally {
        p.kill();
        await p.joinAsync();
      }
    },
  });
}

Deno.test({
  name:
    "Queue: a producer worker killed after naming itself in a slot, before claiming it, does not wedge producers",
  timeout: 30_000,
  async fn() {
    const queue = new Queue<number>(4, { codec: "number" });
    queue.put(0);
    const ready = new Int32Array(new SharedArrayBuffer(8));
    const p = new WorkerProcess({
      module: TASKS,
      fn: "claimAndHang",
      args: [queue, ready, "named"],
    });
    p.start();
    try {
      await waitFlag(ready, p);
      assert.equal(queue.stuckProducer(), 0, "nothing is claimed: TAIL did not move");
      assert.equal(queue.get(), 0);
      p.kill();
      await p.joinAsync();
      // The name of a dead producer that never claimed is cleared by the
      // next producer; every slot works, lap after lap.
      for (let i = 1; i <= 20; i++) {
        queue.put(i, { timeout: 5_000 });
        assert.equal(queue.get({ timeout: 5_000 }), i);
      }
      assert.equal(queue.qsize(), 0);
    } finally {
      p.kill();
      await p.joinAsync();
    }
  },
});

Deno.test({
  name: "Queue: producer workers killed mid-put - nothing torn, every returned put delivered",
  timeout: 60_000,
  async fn() {
    for (let round = 0; round < 6; round++) {
      const queue = new Queue<Uint8Array>(64, { codec: "bytes", maxMessageBytes: 200 });
      const acked = new Int32Array(new SharedArrayBuffer(4));
      const p = new WorkerProcess({
        module: TASKS,
        fn: "putUntilKilled",
        args: [queue, acked],
      });
      p.start();
      let received = 0;
      const check = (message: Uint8Array) => {
        const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
        assert.equal(message.length, 200);
        assert.equal(view.getUint32(0, true), received, "in order, none lost");
        for (let k = 4; k < 196; k++) assert.equal(message[k], received & 0xff, "not torn");
        assert.equal(view.getUint32(196, true), received ^ 0x5a5a5a5a, "not torn");
        received++;
      };
      try {
        const killAt = 200 + Math.floor(Math.random() * 3_000);
        while (received < killAt) check(await queue.getAsync({ timeout: 20_000 }));
        p.kill();
        await p.joinAsync();
        // kill() reports the end at once; the thread itself stops a moment
        // later. Wait until its puts have stopped for 200 ms.
        for (let last = -1; last !== Atomics.load(acked, 0);) {
          last = Atomics.load(acked, 0);
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
        // Dead producer: drain. A slot it claimed names it (it names itself
        // before claiming) and is recovered by getNowait.
        while (queue.qsize() > 0) {
          assert.notEqual(queue.stuckProducer(), -1, "a claimed slot names its claimer");
          try {
            check(queue.getNowait());
          } catch (err) {
            if (!(err instanceof QueueEmptyError)) throw err;
          }
        }
        const returned = Atomics.load(acked, 0);
        assert.ok(
          received === returned || received === returned + 1,
          `received ${received}, puts returned ${returned}`,
        );
      } finally {
        p.kill();
        await p.joinAsync();
      }
    }
  },
});

// A producer P reported dead while it still runs (a force-stopped worker is
// marked dead just before it is stopped), between naming itself in slot 0
// and claiming it; another producer R then finds slot 0 named by a dead
// producer. Driven step by step on one thread: P is a Queue over a view of
// the same memory that runs a hook before each operation, and so is R.
// `mode`: "continues" - P goes on after R's put; "claims-then-stops" - P's
// claim lands just after R decided P was dead, then P is stopped.
function handOver(mode: "continues" | "claims-then-stops"): number[] {
  const queue = new Queue<number>(4, { codec: "number" });
  const raw = memoryOf(queue);
  let pHook: Hook;
  let rHook: Hook;
  const producerP = new Queue<number>(hookedView(raw, () => pHook), numberCodec);
  const producerR = new Queue<number>(hookedView(raw, () => rHook), numberCodec);
  const main = currentOwnerId();
  const [p, r] = [registerOwner(), registerOwner()];
  const nameOfP = claimedBy(p);
  pHook = (op, args) => {
    if (op !== "compareExchange" || args[0] !== TAIL) return;
    pHook = undefined;
    assert.equal(raw.load(SLOTS + SLOT_CLAIMER), nameOfP, "P named itself before claiming");
    markOwnerDead(p);
    if (mode === "claims-then-stops") {
      // R's first step on P's slot after deciding P is dead: P's claim lands first.
      rHook = (op2, args2) => {
        if (op2 !== "compareExchange") return;
        const onTail = args2[0] === TAIL && args2[1] === 0;
        const onName = args2[0] === SLOTS + SLOT_CLAIMER && args2[1] === nameOfP;
        if (!onTail && !onName) return;
        rHook = undefined;
        assert.equal(raw.compareExchange(TAIL, 0, 1), 0, "P claims slot 0");
      };
    }
    setCurrentOwnerId(r);
    producerR.put(2);
    setCurrentOwnerId(p);
    if (mode === "claims-then-stops") throw new Error("stopped");
  };
  setCurrentOwnerId(p);
  try {
    producerP.put(1);
  } catch (err) {
    if (!(err instanceof Error) || err.message !== "stopped") throw err;
  } finally {
    setCurrentOwnerId(main);
  }
  const delivered: number[] = [];
  for (let i = 0; i < 10 && queue.qsize() > 0; i++) {
    assert.notEqual(queue.stuckProducer(), -1, "a claimed slot names its claimer");
    try {
      delivered.push(queue.get({ timeout: 2_000 }));
    } catch (err) {
      if (!(err instanceof QueueEmptyError)) throw err;
    }
  }
  assert.equal(queue.qsize(), 0, "nothing left stuck");
  return delivered;
}

Deno.test("Queue: a producer reported dead between naming itself and claiming, still running, loses no item", () => {
  assert.deepEqual(handOver("continues").sort(), [1, 2]);
});

Deno.test("Queue: a producer whose claim lands while another decides it is dead leaves no nameless slot", () => {
  assert.deepEqual(
    handOver("claims-then-stops"),
    [2],
    "the dead put's slot is skipped, the other item arrives",
  );
});

Deno.test("Queue: putManyAsync/getManyAsync and items({ signal }) - batches and iteration without blocking", async () => {
  const queue = new Queue<number>(2, { codec: "number" });
  await assert.rejects(
    queue.putManyAsync([1, 2, 3], { timeout: 30 }),
    (e: unknown) => e instanceof QueueFullError && e.cause === 2,
  );
  assert.deepEqual(await queue.getManyAsync(10, { timeout: 100 }), [1, 2]);
  await assert.rejects(queue.getManyAsync(1, { timeout: 10 }), QueueEmptyError);
  await assert.rejects(queue.getManyAsync(0), RangeError);
  // A consumer on the same event loop drains while the batch waits for room.
  const produced = queue.putManyAsync([10, 11, 12, 13, 14], { timeout: 5_000 });
  const seen: number[] = [];
  while (seen.length < 5) seen.push(...await queue.getManyAsync(5, { timeout: 5_000 }));
  await produced;
  assert.deepEqual(seen, [10, 11, 12, 13, 14]);
  const stop = new AbortController();
  await queue.putManyAsync([20, 21]);
  await assert.rejects(
    queue.putManyAsync([22], { signal: AbortSignal.abort(new Error("no room wanted")) }),
    /no room wanted/,
  );
  const iterated: number[] = [];
  await assert.rejects(async () => {
    for await (const n of queue.items({ signal: stop.signal })) {
      iterated.push(n);
      if (iterated.length === 2) stop.abort(new Error("enough"));
    }
  }, /enough/);
  assert.deepEqual(iterated, [20, 21]);
  queue.put(30);
  queue.close();
  const rest: number[] = [];
  for await (const n of queue) rest.push(n);
  assert.deepEqual(rest, [30], "for await still drains, then ends at close");
});
