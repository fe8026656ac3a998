import assert from "node:assert/strict";
import { LayoutError } from "../primitives/errors.ts";
import { Event } from "../primitives/event.ts";
import { Mutex } from "../primitives/mutex.ts";
import { RecursiveMutex } from "../primitives/recursive_mutex.ts";
import {
  SharedArray,
  type SharedArrayHandle,
  SharedValue,
  type SharedValueHandle,
} from "../primitives/shared_value.ts";
import { WorkerGroup } from "./_helpers.ts";

const TASKS = new URL("./_tasks/shared_value_tasks.ts", import.meta.url);

Deno.test("SharedValue: initial value, default zero, atomic operations (VA-1, VA-4)", () => {
  assert.equal(new SharedValue().value, 0);
  assert.equal(new SharedValue("int32").type, "int32");
  const v = new SharedValue("int32", 4343);
  assert.equal(v.value, 4343);
  v.value = 24234;
  assert.equal(v.load(), 24234);
  v.store(10);
  assert.equal(v.add(5), 10);
  assert.equal(v.sub(3), 15);
  assert.equal(v.value, 12);
  assert.equal(v.exchange(7), 12);
  assert.equal(v.compareExchange(7, 8), 7);
  assert.equal(v.compareExchange(7, 9), 8, "a failed compareExchange returns what is there");
  assert.equal(v.value, 8);
});

Deno.test("SharedValue: values wrap like the typed array of their type (VA-7)", () => {
  const i = new SharedValue("int32", 2 ** 31);
  assert.equal(i.value, -2147483648);
  i.value = 2 ** 32 + 5;
  assert.equal(i.value, 5);
  i.value = 2 ** 31 - 1;
  i.add(1);
  assert.equal(i.value, -(2 ** 31));
  i.value = 1.9;
  assert.equal(i.value, 1, "truncated like Int32Array");
  const u = new SharedValue("uint32", -1);
  assert.equal(u.value, 4294967295);
  assert.equal(u.add(1), 4294967295);
  assert.equal(u.value, 0);
  u.value = 3_000_000_000;
  assert.equal(u.compareExchange(3_000_000_000, 4_000_000_000), 3_000_000_000);
  assert.equal(u.value, 4_000_000_000);
  assert.equal(u.exchange(1), 4_000_000_000);
  assert.equal(u.sub(2), 1);
  assert.equal(u.value, 4294967295);
});

Deno.test("SharedValue float64: exact values under its lock, compareExchange by value", () => {
  const f = new SharedValue("float64", 1.25);
  assert.equal(f.value, 1.25);
  assert.ok(f.getLock() instanceof Mutex, "float64 always has a lock");
  assert.equal(f.add(0.5), 1.25);
  assert.equal(f.value, 1.75);
  assert.equal(f.compareExchange(1.75, Math.PI), 1.75);
  assert.equal(f.value, Math.PI);
  assert.equal(f.compareExchange(1, 2), Math.PI);
  assert.equal(f.exchange(-0.1), Math.PI);
  assert.equal(f.sub(0.2), -0.1);
  f.value = Number.MAX_VALUE;
  assert.equal(f.value, Number.MAX_VALUE);
  assert.equal(f.withLock(() => f.value), Number.MAX_VALUE, "a held Mutex is not re-taken");
  const withRLock = new SharedValue("float64", 2, { lock: new RecursiveMutex() });
  assert.equal(withRLock.withLock(() => withRLock.add(1)), 2);
  assert.equal(withRLock.value, 3);
  assert.throws(() => new SharedValue("float64", 0, { lock: false }), TypeError);
});

Deno.test("SharedValue lock options: true, a given lock, none (VA-2)", async () => {
  const locked = new SharedValue("int32", 0, { lock: true });
  assert.ok(locked.getLock() instanceof Mutex);
  const mutex = new Mutex();
  const given = new SharedValue("int32", 0, { lock: mutex });
  assert.equal(given.getLock(), mutex);
  assert.equal(given.withLock(() => mutex.locked()), true);
  assert.equal(await given.withLockAsync(() => 5), 5);
  assert.equal(mutex.locked(), false);
  const raw = new SharedValue("int32");
  assert.equal(raw.getLock(), undefined);
  assert.throws(() => raw.withLock(() => 1), TypeError);
  assert.throws(() => raw.withLockAsync(() => 1), TypeError);
  assert.throws(() => new SharedValue("int32", 0, { lock: "navalue" as never }), TypeError);
  assert.throws(() => new SharedValue("int8" as never), TypeError);
  assert.equal(
    Mutex.name,
    SharedValue.from(given.handle).getLock()?.constructor.name,
    "the lock travels with the handle",
  );
});

Deno.test("SharedArray: zero-filled, indexing, slices, iteration (VA-4, VA-5)", () => {
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(new SharedArray("int32", 10).toArray(), new Array(10).fill(0));
  }
  const a = new SharedArray("int32", [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(a.length, 10);
  assert.equal(a.load(3), 3);
  assert.equal(a.at(-1), 9);
  assert.deepEqual(a.toArray(2, 7), [2, 3, 4, 5, 6]);
  assert.deepEqual(a.toArray(-3), [7, 8, 9]);
  assert.deepEqual([...a], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  a.set([20, 30, 40], 2);
  assert.deepEqual(a.toArray(0, 6), [0, 1, 20, 30, 40, 5]);
  assert.equal(a.add(0, 5), 0);
  assert.equal(a.sub(0, 2), 5);
  assert.equal(a.exchange(0, 1), 3);
  assert.equal(a.compareExchange(0, 1, 2), 1);
  assert.equal(a.load(0), 2);
  const f = new SharedArray("float64", [0.5, 1.5]);
  assert.deepEqual(f.toArray(), [0.5, 1.5]);
  f.add(1, 1);
  assert.equal(f.load(1), 2.5);
  const u = new SharedArray("uint32", [-1]);
  assert.equal(u.load(0), 4294967295);
  assert.equal(new SharedArray("int32", 0).length, 0);
});

Deno.test("SharedArray: out-of-range indices and bad lengths are RangeErrors; nothing written (VA-6)", () => {
  const a = new SharedArray("int32", [1, 2, 3]);
  for (const bad of [3, -1, 1.5, NaN, 100]) {
    assert.throws(() => a.load(bad), RangeError, `load(${bad})`);
    assert.throws(() => a.store(bad, 0), RangeError, `store(${bad})`);
    assert.throws(() => a.add(bad, 1), RangeError);
    assert.throws(() => a.compareExchange(bad, 0, 1), RangeError);
    assert.throws(() => a.exchange(bad, 1), RangeError);
  }
  assert.throws(() => a.at(-4), RangeError);
  assert.throws(() => a.at(3), RangeError);
  assert.throws(() => a.set([9, 9], 2), RangeError);
  assert.throws(() => a.set([9, 9, 9, 9]), RangeError);
  assert.throws(() => a.set([9], -1), RangeError);
  assert.deepEqual(a.toArray(), [1, 2, 3], "a refused write changes nothing");
  for (const bad of [-1, 1.5, NaN, 2 ** 31]) {
    assert.throws(() => new SharedArray("int32", bad), RangeError, `length ${bad}`);
  }
  assert.throws(() => new SharedArray("bogus" as never, 2), TypeError);
});

Deno.test("SharedValue/SharedArray.from reject handles of other kinds and corrupt headers", () => {
  const v = new SharedValue("int32", 1);
  const a = new SharedArray("int32", 4);
  assert.throws(
    () => SharedArray.from(v.handle as unknown as SharedArrayHandle),
    (e: unknown) => e instanceof LayoutError && e.problem === "wrong-kind",
  );
  assert.throws(
    () => SharedValue.from(a.handle as unknown as SharedValueHandle),
    (e: unknown) => e instanceof LayoutError && e.problem === "wrong-kind",
  );
  assert.throws(
    () => SharedArray.from({ ...v.handle, kind: "SharedArray" }),
    (e: unknown) => e instanceof LayoutError && e.problem === "wrong-kind",
    "a value's memory is not an array's even with a forged kind",
  );
  assert.throws(
    () => SharedValue.from(new Event().handle as unknown as SharedValueHandle),
    LayoutError,
  );
  assert.throws(
    () => SharedValue.from({ ...new Event().handle, kind: "SharedValue" }),
    (e: unknown) => e instanceof LayoutError && e.problem === "wrong-kind",
  );
  assert.throws(() => SharedValue.from(null as unknown as SharedValueHandle), LayoutError);
  const locked = new SharedValue("int32", 0, { lock: true });
  const { lock: _lock, ...withoutLock } = locked.handle;
  assert.throws(
    () => SharedValue.from(withoutLock as SharedValueHandle),
    (e: unknown) => e instanceof LayoutError && e.problem === "bad-parameters",
  );
  assert.throws(
    () => SharedValue.from({ ...v.handle, lock: new Event().handle as never }),
    LayoutError,
  );
  const corrupt = new SharedArray("int32", 4);
  new Int32Array(corrupt.handle.memory.buffer!)[5] = 99; // length
  assert.throws(
    () => SharedArray.from(corrupt.handle),
    (e: unknown) => e instanceof LayoutError && e.problem === "bad-parameters",
  );
});

Deno.test({
  name: "SharedValue: a worker's write is visible to the main thread (VA-1)",
  timeout: 30_000,
  async fn() {
    using group = new WorkerGroup();
    const v = new SharedValue("int32", 4343);
    assert.equal(await group.run(TASKS, "setValue", v.handle, 24234), 24234);
    assert.equal(v.value, 24234);
    const f = new SharedValue("float64", 0.25);
    assert.equal(await group.run(TASKS, "setValue", f.handle, 1e-300), 1e-300);
    assert.equal(f.value, 1e-300);
    const q = new SharedValue("uint32");
    await group.run(TASKS, "setValue", q.handle, 2 ** 33 + 7);
    assert.equal(q.value, 7);
  },
});

Deno.test({
  name: "SharedValue: 4 workers x 20,000 increments under withLock end at exactly 80,000 (VA-3)",
  timeout: 60_000,
  async fn() {
    using group = new WorkerGroup();
    const v = new SharedValue("int32", 0, { lock: true });
    await Promise.all(
      Array.from({ length: 4 }, () => group.run(TASKS, "incrementLocked", v.handle, 20_000)),
    );
    assert.equal(v.value, 80_000);
    assert.equal(v.getLock()!.locked(), false);
  },
});

Deno.test({
  name:
    "SharedValue: atomic add, compareExchange loops and float64 add lose nothing across workers",
  timeout: 60_000,
  async fn() {
    using group = new WorkerGroup();
    const counter = new SharedValue("int32");
    const cas = new SharedValue("uint32");
    const float = new SharedValue("float64");
    await Promise.all([
      group.run(TASKS, "addMany", counter.handle, 50_000, 1),
      group.run(TASKS, "addMany", counter.handle, 50_000, 1),
      group.run(TASKS, "casIncrement", cas.handle, 20_000),
      group.run(TASKS, "casIncrement", cas.handle, 20_000),
      group.run(TASKS, "addMany", float.handle, 5_000, 0.5),
      group.run(TASKS, "addMany", float.handle, 5_000, 0.5),
    ]);
    assert.equal(counter.value, 100_000);
    assert.equal(cas.value, 40_000);
    assert.equal(float.value, 5_000);
  },
});

Deno.test({
  name: "SharedArray: writes from workers are visible; element-wise atomics lose nothing (VA-5)",
  timeout: 60_000,
  async fn() {
    using group = new WorkerGroup();
    const a = new SharedArray("int32", 8);
    const sum = await group.run<number>(TASKS, "fillArray", a.handle, 100);
    assert.equal(sum, 8 * 100 + 28);
    assert.deepEqual(a.toArray(), [100, 101, 102, 103, 104, 105, 106, 107]);
    const counts = new SharedArray("int32", 4);
    await Promise.all([0, 1, 2].map(() => group.run(TASKS, "bumpAll", counts.handle, 10_000)));
    assert.deepEqual(counts.toArray(), [30_000, 30_000, 30_000, 30_000]);
    const floats = new SharedArray("float64", 3, { lock: new Mutex() });
    await group.run(TASKS, "fillArray", floats.handle, 0.5);
    assert.deepEqual(floats.toArray(), [0.5, 1.5, 2.5]);
  },
});
