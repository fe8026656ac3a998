import assert from "node:assert/strict";
import { RingBuffer, type RingBufferHandle } from "../primitives/ring_buffer.ts";
import { Queue } from "../primitives/queue.ts";
import { ClosedError, LayoutError, MessageCorruptError } from "../primitives/errors.ts";
import { timed, WorkerGroup } from "./_helpers.ts";

const TASKS = new URL("./_tasks/ring_buffer_tasks.ts", import.meta.url);
/** Cell where a ring's data starts (base 16 + 48 control cells). */
const DATA = 64;

Deno.test("RingBuffer: capacity rounds up to a power of two; bad capacities throw", () => {
  assert.equal(new RingBuffer(1).capacity, 16);
  assert.equal(new RingBuffer(1000).capacity, 1024);
  assert.equal(new RingBuffer(64).maxMessageBytes, 60);
  for (const bad of [0, -4, 1.5, NaN, 2 ** 31]) {
    assert.throws(() => new RingBuffer(bad), RangeError, `capacity ${bad}`);
  }
});

Deno.test("RingBuffer: messages keep their boundaries, the empty message is a message", () => {
  const ring = new RingBuffer(64);
  assert.equal(ring.tryPop(), undefined);
  assert.equal(ring.empty(), true);
  ring.push(new Uint8Array([1]));
  ring.push(new Uint8Array(0));
  ring.push(new Uint8Array([2, 3]));
  assert.equal(ring.usedBytes(), 8 + 4 + 8);
  assert.deepEqual([...ring.pop()!], [1]);
  assert.equal(ring.pop()!.length, 0);
  assert.deepEqual([...ring.pop()!], [2, 3]);
  assert.equal(ring.empty(), true);
});

Deno.test("RingBuffer: exact bytes across many wrap-arounds (single thread, random sizes)", () => {
  const ring = new RingBuffer(256);
  let seed = 12345;
  const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const inFlight: Uint8Array[] = [];
  let pushed = 0;
  let popped = 0;
  while (popped < 20_000) {
    if (random() < 0.55 && pushed < 20_000) {
      const bytes = new Uint8Array(Math.floor(random() * 100));
      for (let j = 0; j < bytes.length; j++) bytes[j] = (pushed + j * 13) & 0xff;
      if (ring.tryPush(bytes)) {
        inFlight.push(bytes);
        pushed++;
      }
    } else {
      const got = ring.tryPop();
      if (got !== undefined) {
        assert.deepEqual(got, inFlight.shift());
        popped++;
      }
    }
  }
  assert.equal(ring.empty(), true);
});

Deno.test("RingBuffer: typed numbers - singles, batches, partial pops, int32 and float64", () => {
  const ring = new RingBuffer(64);
  assert.equal(ring.tryPushNumber(1), true);
  assert.equal(ring.tryPushNumber(-2.5), true);
  assert.equal(ring.tryPushNumber(2 ** 40), true);
  assert.equal(ring.tryPushNumber(-0), true);
  assert.equal(ring.popNumber(), 1);
  assert.equal(ring.popNumber(), -2.5);
  assert.equal(ring.popNumber(), 2 ** 40);
  assert.ok(Object.is(ring.popNumber(), -0));
  assert.equal(ring.tryPushNumbers(new Int32Array([1, 2, 3, 4, 5])), 5);
  const two = new Int32Array(2);
  assert.equal(ring.tryPopNumbers(two), 2);
  assert.deepEqual([...two], [1, 2]);
  assert.equal(ring.popNumber(), 3, "a single pop takes from the rest of the run");
  assert.equal(ring.tryPopNumbers(new Int32Array(10)), 2);
  assert.equal(ring.tryPushNumbers(new Float64Array([0.5, 1.5])), 2);
  const f = new Float64Array(4);
  assert.equal(ring.popNumbers(f), 2);
  assert.deepEqual([...f.subarray(0, 2)], [0.5, 1.5]);
  // Batches larger than the ring go in as much as fits.
  assert.equal(ring.tryPushNumbers(new Int32Array(100)), 15);
  assert.equal(ring.tryPopNumbers(new Int32Array(100)), 15);
});

Deno.test("RingBuffer: runs of numbers against a model, random pushes and partial pops", () => {
  // Partial pops rewrite the rest of a run; pops take several runs at once.
  // Every value must come out in order.
  const ring = new RingBuffer(1024); // 256 cells: wraps every few batches
  const model: { float: boolean; value: number }[] = [];
  let seed = 12345;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  let next = 0;
  let pushed = 0;
  for (let step = 0; step < 20_000; step++) {
    const action = random(4);
    if (action === 0) {
      const float = random(3) === 0;
      const length = 1 + random(float ? 40 : 90);
      // A view one element into its buffer half the time: runs are padded
      // to the source's alignment, which then flips.
      const skip = random(2);
      const values = (float
        ? Float64Array.from({ length: length + skip }, (_, i) =>
          i < skip ? -1 : next++ + 0.5)
        : Int32Array.from({ length: length + skip }, (_, i) => i < skip ? -1 : next++))
        .subarray(skip);
      const count = ring.tryPushNumbers(values);
      assert.ok(count >= 0 && count <= length);
      for (let i = 0; i < count; i++) model.push({ float, value: values[i] });
      next -= length - count; // values not pushed are reused
      pushed += count;
    } else if (action === 1 && model.length > 0) {
      assert.equal(ring.tryPopNumber(), model.shift()!.value);
    } else {
      const float = model.length > 0 ? model[0].float : random(2) === 0;
      const target = float ? new Float64Array(1 + random(70)) : new Int32Array(1 + random(70));
      const view = random(2) === 0 ? target : target.subarray(1); // odd offsets too
      const got = ring.tryPopNumbers(view);
      let expected = 0;
      while (expected < view.length && expected < model.length && model[expected].float === float) {
        expected++;
      }
      assert.equal(got, expected);
      for (let i = 0; i < got; i++) assert.equal(view[i], model.shift()!.value);
    }
  }
  assert.ok(pushed > 50_000, `enough traffic (${pushed} numbers)`);
});

Deno.test("RingBuffer: a long run is padded to its source's alignment; a split rest is not", () => {
  const ring = new RingBuffer(1024); // 256 cells
  const cells = new Int32Array(ring.handle.memory.buffer!);
  ring.pushNumber(7); // cells 0-1: the next frame starts on an odd cell
  ring.pushNumbers(Int32Array.from({ length: 20 }, (_, i) => 100 + i));
  assert.equal(cells[DATA + 2] >>> 0, (0x80000000 | 0x20000000 | 20) >>> 0, "padded header");
  assert.equal(cells[DATA + 4], 100, "numbers start after the padding cell");
  assert.equal(ring.usedBytes(), (2 + 2 + 20) * 4);
  assert.equal(ring.popNumber(), 7);
  const five = new Int32Array(5);
  assert.equal(ring.popNumbers(five), 5);
  assert.deepEqual([...five], [100, 101, 102, 103, 104]);
  assert.equal(cells[DATA + 8] >>> 0, (0x80000000 | 15) >>> 0, "the rest's header, unpadded");
  assert.equal(ring.popNumber(), 105);
  const rest = new Int32Array(20);
  assert.equal(ring.popNumbers(rest), 14);
  assert.deepEqual([...rest.subarray(0, 14)], Array.from({ length: 14 }, (_, i) => 106 + i));
  // A short run is never padded, and neither is one that would then not fit whole.
  ring.pushNumber(1);
  ring.pushNumbers(new Int32Array(8));
  assert.equal(ring.usedBytes(), (2 + 1 + 8) * 4);

  // Nor one pushed with less than half the ring free.
  const full = new RingBuffer(1024);
  const fullCells = new Int32Array(full.handle.memory.buffer!);
  full.pushNumbers(new Int32Array(140)); // 256 cells free: padded (2 + 140 cells)
  assert.equal(full.usedBytes(), 142 * 4);
  full.pushNumbers(new Int32Array(20)); // 114 free, misaligned: unpadded all the same
  assert.equal(fullCells[DATA + 142] >>> 0, (0x80000000 | 20) >>> 0);
  assert.equal(full.usedBytes(), (142 + 21) * 4);
});

Deno.test("RingBuffer: tryPushNumbers pushes as many as fit, even a sliver of a full ring", () => {
  const ring = new RingBuffer(1024); // 256 cells
  assert.equal(ring.tryPushNumbers(new Int32Array(300)), 255, "an empty ring takes all that fits");
  const out = new Int32Array(8);
  assert.equal(ring.tryPopNumbers(out), 8);
  assert.equal(ring.tryPushNumbers(new Int32Array(40)), 7, "8 free cells: a header and 7 numbers");
  assert.equal(ring.tryPushNumbers(new Int32Array(4)), 0, "full again");
  const all = new Int32Array(300);
  assert.equal(
    ring.tryPopNumbers(all),
    254,
    "the rest of the first run and the second, in one call",
  );
});

Deno.test("RingBuffer: a typed pop that meets the other kind throws TypeError and takes nothing", () => {
  const ring = new RingBuffer(64);
  ring.pushNumber(7);
  assert.throws(() => ring.tryPop(), TypeError);
  assert.throws(() => ring.pop(), TypeError);
  assert.throws(() => ring.popMany(4), TypeError);
  assert.equal(
    ring.tryPopNumbers(new Float64Array(1)),
    0,
    "int32 run does not go into a Float64Array",
  );
  assert.throws(() => ring.popNumbers(new Float64Array(1)), TypeError);
  assert.equal(ring.popNumber(), 7);
  ring.push(new Uint8Array([1]));
  assert.throws(() => ring.tryPopNumber(), TypeError);
  assert.throws(() => ring.popNumbers(new Int32Array(1)), TypeError);
  assert.deepEqual([...ring.pop()!], [1]);
  assert.throws(() => ring.push("no" as unknown as Uint8Array), TypeError);
  assert.throws(() => ring.pushNumber("1" as unknown as number), TypeError);
  assert.throws(() => ring.pushNumbers([1] as unknown as Int32Array), TypeError);
});

Deno.test("RingBuffer: popMany/tryPopMany with a max below 1 are a RangeError, never a spin", () => {
  const ring = new RingBuffer(64);
  ring.push(new Uint8Array([1]));
  for (const bad of [0, -1, 1.5, NaN]) {
    assert.throws(() => ring.popMany(bad, { timeout: 100 }), RangeError, `popMany(${bad})`);
    assert.throws(() => ring.tryPopMany(bad), RangeError, `tryPopMany(${bad})`);
  }
  assert.deepEqual(ring.popMany(1), [new Uint8Array([1])], "nothing was taken");
});

Deno.test("RingBuffer: a message that can never fit is a RangeError, never a hang", () => {
  const ring = new RingBuffer(64);
  assert.throws(() => ring.push(new Uint8Array(61)), RangeError);
  assert.throws(() => ring.tryPush(new Uint8Array(61)), RangeError);
  assert.throws(() => ring.pushMany([new Uint8Array(1), new Uint8Array(100)]), RangeError);
  assert.equal(ring.empty(), true, "a refused batch pushes nothing");
  assert.equal(ring.push(new Uint8Array(60)), true);
  assert.equal(ring.tryPush(new Uint8Array(0)), false, "full");
});

Deno.test("RingBuffer: timeouts are never early and bounded late", async () => {
  const ring = new RingBuffer(16);
  let [value, ms] = await timed(() => ring.pop({ timeout: 50 }));
  assert.equal(value, undefined);
  assert.ok(ms >= 49 && ms < 550, `pop timeout took ${ms} ms`);
  [value, ms] = await timed(() => ring.popAsync({ timeout: 30 }));
  assert.equal(value, undefined);
  assert.ok(ms >= 29 && ms < 530, `popAsync timeout took ${ms} ms`);
  ring.push(new Uint8Array(12));
  const [ok, ms2] = await timed(() => ring.push(new Uint8Array(4), { timeout: 50 }));
  assert.equal(ok, false);
  assert.ok(ms2 >= 49 && ms2 < 550, `push timeout took ${ms2} ms`);
  const [okA, ms3] = await timed(() => ring.pushNumberAsync(1, { timeout: 30 }));
  assert.equal(okA, false);
  assert.ok(ms3 >= 29 && ms3 < 530, `pushNumberAsync timeout took ${ms3} ms`);
  assert.throws(() => ring.popNumber({ timeout: -1 }), TypeError, "the next message is bytes");
  assert.equal(ring.pop()!.length, 12);
  const [none, ms4] = await timed(() => ring.popNumber({ timeout: -1 }));
  assert.equal(none, undefined, "a negative timeout polls once");
  assert.ok(ms4 < 20);
});

Deno.test("RingBuffer: async forms honour AbortSignal", async () => {
  const ring = new RingBuffer(16);
  const c = new AbortController();
  const pending = ring.popAsync({ signal: c.signal });
  c.abort(new Error("stop"));
  await assert.rejects(pending, /stop/);
  const waiting = ring.popNumberAsync({ timeout: 5000 });
  ring.pushNumber(5);
  assert.equal(await waiting, 5);
});

Deno.test("RingBuffer: close - push throws ClosedError, pop drains then throws", async () => {
  const ring = new RingBuffer(64);
  ring.push(new Uint8Array([1]));
  ring.pushNumber(2);
  ring.close();
  ring.close();
  assert.equal(ring.closed, true);
  assert.throws(() => ring.push(new Uint8Array(1)), ClosedError);
  assert.throws(() => ring.tryPushNumber(1), ClosedError);
  await assert.rejects(ring.pushAsync(new Uint8Array(1)), ClosedError);
  assert.deepEqual([...ring.pop()!], [1]);
  assert.equal(ring.popNumber(), 2);
  assert.throws(() => ring.pop(), ClosedError);
  assert.throws(() => ring.tryPop(), ClosedError);
  assert.throws(() => ring.tryPopNumbers(new Int32Array(1)), ClosedError);
  await assert.rejects(ring.popNumberAsync(), ClosedError);
});

Deno.test({
  name: "RingBuffer: close wakes a consumer blocked in a worker",
  timeout: 30_000,
  async fn() {
    using group = new WorkerGroup();
    const ring = new RingBuffer(64);
    const flag = new Int32Array(new SharedArrayBuffer(4));
    const blocked = group.run<string>(TASKS, "blockedPop", ring.handle, flag);
    await Atomics.waitAsync(flag, 0, 0, 5000).value;
    ring.close();
    assert.equal(await blocked, "ClosedError");
  },
});

Deno.test({
  name:
    "RingBuffer: a blocked push completes once its frame fits, though less than half the ring is free",
  timeout: 30_000,
  async fn() {
    using group = new WorkerGroup();
    const ring = new RingBuffer(64); // 16 cells: eight int32 frames of 2 cells
    let filled = 0;
    while (ring.tryPushNumber(filled)) filled++;
    assert.equal(filled, 8);
    const flag = new Int32Array(new SharedArrayBuffer(4));
    const pushed = group.run<boolean>(TASKS, "blockedPushNumber", ring.handle, flag, 99);
    await Atomics.waitAsync(flag, 0, 0, 5000).value;
    // Let the producer get past its spin and sleep (the outcome is the same if it has not).
    await new Promise((resolve) => setTimeout(resolve, 50));
    // Free 4 cells (the push needs 3, a quarter of the ring), then stop consuming.
    assert.equal(ring.popNumber(), 0);
    assert.equal(ring.popNumber(), 1);
    assert.equal(await pushed, true);
    const rest: number[] = [];
    for (let value = ring.tryPopNumber(); value !== undefined; value = ring.tryPopNumber()) {
      rest.push(value);
    }
    assert.deepEqual(rest, [2, 3, 4, 5, 6, 7, 99]);
  },
});

Deno.test("RingBuffer: foreign, wrong-kind and corrupted memory", () => {
  const ring = new RingBuffer(64);
  const h = ring.handle;
  assert.throws(
    () => RingBuffer.from(new Queue(1).handle as unknown as RingBufferHandle),
    LayoutError,
  );
  assert.throws(
    () =>
      RingBuffer.from({
        kind: "RingBuffer",
        memory: { ...h.memory, buffer: new SharedArrayBuffer(h.memory.byteLength) },
      }),
    (e: unknown) => e instanceof LayoutError && e.problem === "bad-magic",
  );
  const copy = new SharedArrayBuffer(h.memory.byteLength);
  new Uint8Array(copy).set(new Uint8Array(h.memory.buffer!));
  new Int32Array(copy)[4] = 3; // not a power of two
  assert.throws(
    () => RingBuffer.from({ kind: "RingBuffer", memory: { ...h.memory, buffer: copy } }),
    (e: unknown) => e instanceof LayoutError && e.problem === "bad-parameters",
  );
  // A frame header claiming more bytes than were published.
  ring.push(new Uint8Array([1, 2, 3, 4]));
  new Int32Array(h.memory.buffer!)[DATA] = 1000;
  assert.throws(() => ring.pop(), MessageCorruptError);
  const numbers = new RingBuffer(64);
  numbers.pushNumber(1);
  new Int32Array(numbers.handle.memory.buffer!)[DATA] = 0x80000000 | 0; // a run of 0
  assert.throws(() => numbers.popNumber(), MessageCorruptError);
  const padded = new RingBuffer(64);
  padded.pushNumber(1);
  // A padded run of 1: its number would lie past what was published.
  new Int32Array(padded.handle.memory.buffer!)[DATA] = 0x80000000 | 0x20000000 | 1;
  assert.throws(() => padded.popNumbers(new Int32Array(4)), MessageCorruptError);
});

Deno.test({
  name: "RingBuffer: random sizes across thousands of wrap-arounds between workers, bytes exact",
  timeout: 60_000,
  async fn() {
    using group = new WorkerGroup();
    const ring = new RingBuffer(4096);
    const n = 100_000;
    const maxLength = 300;
    const consumer = group.run<[number, number]>(
      TASKS,
      "popMessages",
      ring.handle,
      7,
      n,
      maxLength,
    );
    await group.run(TASKS, "pushMessages", ring.handle, 7, n, maxLength);
    const [count, mismatches] = await consumer;
    assert.equal(count, n);
    assert.equal(mismatches, 0);
    assert.equal(ring.empty(), true);
  },
});

Deno.test({
  name: "RingBuffer: 2,000,000 int32 singles and batches between workers in order",
  timeout: 60_000,
  async fn() {
    using group = new WorkerGroup();
    for (const [batch, n] of [[1, 500_000], [64, 2_000_000]]) {
      const ring = new RingBuffer(4096);
      const consumer = group.run<[number, number, number]>(TASKS, "popInts", ring.handle, n, batch);
      await group.run(TASKS, "pushInts", ring.handle, n, batch);
      const [count, violations, sum] = await consumer;
      assert.equal(count, n);
      assert.equal(violations, 0);
      assert.equal(sum, (n * (n - 1)) / 2);
    }
  },
});

Deno.test("RingBuffer: pushManyAsync, popManyAsync, pushNumbersAsync - batches without blocking", async () => {
  const ring = new RingBuffer(32); // 8 cells: four 4-byte messages at a time
  const messages = Array.from({ length: 6 }, (_, i) => new Uint8Array([i, i, i, i]));
  const pushing = ring.pushManyAsync(messages, { timeout: 5_000 });
  const popped: number[] = [];
  while (popped.length < 6) {
    for (const m of await ring.popManyAsync(6, { timeout: 5_000 })) popped.push(m[0]);
  }
  assert.equal(await pushing, 6);
  assert.deepEqual(popped, [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(await ring.popManyAsync(4, { timeout: 10 }), [], "timed out: empty");
  await assert.rejects(ring.popManyAsync(0), RangeError);
  assert.equal(ring.pushMany(messages.slice(0, 4)), 4);
  assert.equal(await ring.pushManyAsync([messages[4]], { timeout: 10 }), 0, "full: timed out");
  await assert.rejects(
    ring.pushManyAsync([messages[2]], { signal: AbortSignal.abort(new Error("stop")) }),
    /stop/,
  );
  await assert.rejects(ring.pushManyAsync([new Uint8Array(100)]), RangeError);
  assert.equal(ring.popMany(4).length, 4);

  const numbers = Int32Array.from({ length: 40 }, (_, i) => i);
  const pushingNumbers = ring.pushNumbersAsync(numbers, { timeout: 5_000 });
  const got: number[] = [];
  const target = new Int32Array(16);
  while (got.length < 40) {
    const n = await ring.popNumbersAsync(target, { timeout: 5_000 });
    got.push(...target.subarray(0, n));
  }
  assert.equal(await pushingNumbers, 40);
  assert.deepEqual(got, [...numbers]);
  ring.close();
  await assert.rejects(ring.pushNumbersAsync(new Int32Array(1)), ClosedError);
});

Deno.test("RingBuffer: an object whose end others moved reloads its cached positions (2^31 and 2^32 cells)", () => {
  const ring = new RingBuffer(64); // 16 cells
  const cells = new Int32Array(ring.handle.memory.buffer!);
  ring.pushNumber(1);
  assert.equal(ring.popNumber(), 1); // `ring` now caches HEAD = TAIL = 2
  // 2^31 + 16 cells later, moved by other objects of both ends (TAIL, HEAD):
  cells[16] = 0x80000010 | 0;
  cells[32] = 0x80000010 | 0;
  assert.equal(ring.tryPop(), undefined, "empty: no phantom message from a stale TAIL");
  const other = RingBuffer.from(ring.handle);
  assert.equal(other.tryPush(new Uint8Array(52)), true); // 14 of 16 cells
  assert.equal(ring.tryPush(new Uint8Array(12)), false, "full: no overwrite through a stale HEAD");
  assert.deepEqual(ring.pop(), new Uint8Array(52));
  assert.equal(ring.tryPush(new Uint8Array([9])), true);
  assert.deepEqual(ring.pop(), new Uint8Array([9]));

  // 2^32 - 20 cells later: the distance from a stale cache wraps into a plausible one.
  const wrapped = new RingBuffer(256); // 64 cells
  const wrappedCells = new Int32Array(wrapped.handle.memory.buffer!);
  wrapped.pushNumber(1);
  assert.equal(wrapped.popNumber(), 1); // caches HEAD = TAIL = 2
  wrappedCells[16] = -18; // TAIL, moved by other objects of the producer end
  wrappedCells[32] = -18; // HEAD, by other objects of the consumer end
  const producer = RingBuffer.from(wrapped.handle);
  producer.push(new Uint8Array(76).fill(1)); // 20 cells
  producer.push(new Uint8Array(76).fill(2)); // 20 more: 24 free
  assert.equal(wrapped.tryPush(new Uint8Array(116)), false, "30 cells do not fit in 24");
  assert.deepEqual(wrapped.pop(), new Uint8Array(76).fill(1));
});
