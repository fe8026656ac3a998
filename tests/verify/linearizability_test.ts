/**
 * Linearizability: the checker itself on hand-made histories (it accepts
 * overlapping orders and rejects impossible ones), then thousands of short
 * histories of Mutex, Semaphore, Queue and RingBuffer recorded from real
 * workers under real concurrency.
 */
import assert from "node:assert/strict";
import {
  checkLinearizable,
  mutexModel,
  type Operation,
  queueModel,
  ringBufferModel,
  type RingInput,
  type RingOutput,
  semaphoreModel,
} from "../../shm/checking/linearizability.ts";
import { checkHistories, HISTORY_SPECS } from "./histories.ts";

function op<I, O>(thread: number, input: I, output: O, invoke: number, response: number) {
  return { thread, input, output, invoke, response } as Operation<I, O>;
}

Deno.test("linearizability: queue histories", () => {
  const model = queueModel(1);
  // A get that overlaps the put may return its value.
  assert.ok(
    checkLinearizable(model, [
      op(0, { op: "put", value: 1 }, "ok", 0, 3),
      op(1, { op: "get" }, 1, 1, 2),
    ]).ok,
  );
  // A get that returned before the put began cannot return its value.
  assert.equal(
    checkLinearizable(model, [
      op(1, { op: "get" }, 1, 0, 1),
      op(0, { op: "put", value: 1 }, "ok", 2, 3),
    ]).ok,
    false,
  );
  // FIFO: 1 then 2 put sequentially must come out in that order.
  assert.equal(
    checkLinearizable(queueModel(2), [
      op(0, { op: "put", value: 1 }, "ok", 0, 1),
      op(0, { op: "put", value: 2 }, "ok", 2, 3),
      op(1, { op: "get" }, 2, 4, 5),
    ]).ok,
    false,
  );
  // "full" only when full, "empty" only when empty.
  assert.equal(
    checkLinearizable(model, [op(0, { op: "put", value: 1 }, "full", 0, 1)]).ok,
    false,
  );
  assert.equal(
    checkLinearizable(model, [
      op(0, { op: "put", value: 1 }, "ok", 0, 1),
      op(1, { op: "get" }, "empty", 2, 3),
    ]).ok,
    false,
  );
  // A duplicate delivery is caught.
  assert.equal(
    checkLinearizable(model, [
      op(0, { op: "put", value: 1 }, "ok", 0, 1),
      op(1, { op: "get" }, 1, 2, 5),
      op(2, { op: "get" }, 1, 3, 4),
    ]).ok,
    false,
  );
});

Deno.test("linearizability: semaphore, mutex and ring histories", () => {
  // Two overlapping tryAcquires of one permit cannot both succeed.
  assert.equal(
    checkLinearizable(semaphoreModel(1), [
      op(0, { op: "tryAcquire" }, true, 0, 3),
      op(1, { op: "tryAcquire" }, true, 1, 2),
    ]).ok,
    false,
  );
  // ...but can after a release in between.
  assert.ok(
    checkLinearizable(semaphoreModel(1), [
      op(0, { op: "tryAcquire" }, true, 0, 1),
      op(0, { op: "release" }, "ok", 2, 4),
      op(1, { op: "tryAcquire" }, true, 3, 5),
    ]).ok,
  );
  assert.equal(
    checkLinearizable(mutexModel(), [
      op(0, { op: "lock" }, true, 0, 1),
      op(1, { op: "lock" }, true, 2, 3),
    ]).ok,
    false,
  );
  assert.equal(
    checkLinearizable(mutexModel(), [
      op(0, { op: "lock" }, true, 0, 1),
      op(1, { op: "tryLock" }, false, 2, 3),
      op(0, { op: "unlock" }, "ok", 4, 5),
    ]).ok,
    true,
  );
  // A 16-byte ring holds two 4-byte messages (8 bytes each), not three.
  const ring = ringBufferModel(16);
  const push = (id: number, at: number, ok: boolean) =>
    op<RingInput, RingOutput>(0, { op: "push", id, length: 4 }, ok, at, at + 1);
  assert.ok(checkLinearizable(ring, [push(1, 0, true), push(2, 2, true), push(3, 4, false)]).ok);
  assert.equal(checkLinearizable(ring, [push(1, 0, true), push(2, 2, false)]).ok, false);
  assert.equal(
    checkLinearizable(ring, [
      push(1, 0, true),
      push(2, 2, true),
      op<RingInput, RingOutput>(1, { op: "pop" }, 2, 4, 5),
    ])
      .ok,
    false,
  );
});

const ROUNDS = 2000;

for (const [name, spec] of Object.entries(HISTORY_SPECS)) {
  Deno.test({
    name: `linearizability: ${ROUNDS} recorded ${name} histories (${spec.threads} workers)`,
    timeout: 60_000,
    async fn() {
      const report = await checkHistories(spec, ROUNDS, 0x11ea);
      assert.equal(report.failure, undefined, report.failure);
      assert.equal(report.histories, ROUNDS);
    },
  });
}
