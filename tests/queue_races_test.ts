/**
 * Queue and JoinableQueue races found by review, replayed step by step on
 * one thread through hooked memory views (`_hooked_memory.ts`): each party
 * is a queue over a view of the same memory whose hook stops it at an
 * exact operation while another party runs. "Reported dead" is the liveness
 * oracle's word; a force-stopped worker is reported dead just before it
 * actually stops, so a "dead" producer may run a few more instructions.
 */
import assert from "node:assert/strict";
import { JoinableQueue } from "../primitives/joinable_queue.ts";
import { Queue } from "../primitives/queue.ts";
import { QueueClosedError, QueueEmptyError } from "../primitives/errors.ts";
import {
  claimedBy,
  CLOSED,
  SLOT_CLAIMER,
  SLOTS,
  TAIL,
  UNFINISHED,
} from "../primitives/_queue_layout.ts";
import { currentOwnerId, setCurrentOwnerId } from "../primitives/_owner.ts";
import { markOwnerDead, registerOwner } from "../shm/liveness.ts";
import type { Memory } from "../shm/memory.ts";
import { type Hook, hookedView, memoryOf, numberCodec } from "./_hooked_memory.ts";

/**
 * A queue over a view of `raw` that throws once it has waited 300 times
 * (a party stuck behind a slot that will never change: the waits inside a
 * claim are not bounded by the caller's timeout).
 */
function bounded(raw: Memory, options?: { startedBeforeClose?: boolean }): Queue<number> {
  let waits = 0;
  let early = options?.startedBeforeClose ?? false;
  return new Queue<number>(
    hookedView(raw, () => (op, args) => {
      // A put that started before close(): its early check of CLOSED read "open".
      if (early && op === "loadPlain" && args[0] === CLOSED) {
        early = false;
        return { value: 0 };
      }
      if (op === "wait" && ++waits > 300) throw new Error("stuck");
    }),
    numberCodec,
  );
}

/** Runs `fn` as owner `id` (the thread's id is restored after). */
function as<T>(id: number, fn: () => T): T {
  const main = currentOwnerId();
  setCurrentOwnerId(id);
  try {
    return fn();
  } finally {
    setCurrentOwnerId(main);
  }
}

/** Runs `fn`, which a hook stops by throwing `stop`; rethrows anything else. */
function untilStopped(fn: () => unknown, stop: string): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof Error) || err.message !== stop) throw err;
  }
}

/**
 * Steps to the state where a live producer P holds slot 0 of a
 * capacity-`capacity` queue whose recovery is under way: P loaded TAIL = 0
 * and was preempted; D claimed slot 0 and died; a consumer recovering it
 * cleared the name and was preempted before its stamp compare-exchange; P
 * named the slot and took it for claimed. `atHold` runs when P checks
 * CLOSED after that, with the consumer's pending stamp compare-exchange.
 */
function staleHolder(
  capacity: number,
  atHold: (queue: Queue<number>, raw: Memory, stampCas: number[]) => void,
): { queue: Queue<number>; raw: Memory; run: () => void; p: number } {
  const queue = new Queue<number>(capacity, { codec: "number" });
  const raw = memoryOf(queue);
  const [d, p] = [registerOwner(), registerOwner()];
  let dHook: Hook, pHook: Hook, cHook: Hook;
  const producerD = new Queue<number>(hookedView(raw, () => dHook), numberCodec);
  const producerP = new Queue<number>(hookedView(raw, () => pHook), numberCodec);
  const consumerC = new Queue<number>(hookedView(raw, () => cHook), numberCodec);
  let steps = 0;
  pHook = (op, args) => {
    if (++steps !== 3 || op !== "load" || args[0] !== SLOTS) return;
    pHook = undefined;
    let claimed = false;
    dHook = (op2, args2) => {
      if (op2 === "compareExchange" && args2[0] === TAIL) claimed = true;
      else if (claimed) throw new Error("killed");
    };
    as(d, () => untilStopped(() => producerD.put(100), "killed"));
    markOwnerDead(d);
    let stampCas: number[] = [];
    cHook = (op2, args2) => {
      if (op2 === "compareExchange" && args2[0] === SLOTS && args2[1] === 0) {
        stampCas = args2;
        throw new Error("preempted");
      }
    };
    untilStopped(() => consumerC.getNowait(), "preempted");
    cHook = undefined;
    pHook = (op3, args3) => {
      if (op3 !== "load" || args3[0] !== CLOSED) return;
      pHook = undefined;
      atHold(queue, raw, stampCas);
    };
  };
  return { queue, raw, p, run: () => as(p, () => producerP.put(1)) };
}

Deno.test("Queue race: a live producer with a stale TAIL that names a slot being recovered gives its name back", () => {
  const { queue, raw, run, p } = staleHolder(4, (_queue, raw, [cell, expected, replacement]) => {
    // The consumer's stamp compare-exchange lands before P publishes.
    assert.equal(
      raw.compareExchange(cell, expected, replacement),
      0,
      "the consumer recovers slot 0",
    );
  });
  run(); // its publish fails: it puts again in a fresh slot
  assert.equal(raw.load(SLOTS + SLOT_CLAIMER), 0, "P's name is not left in the freed slot");
  queue.put(2);
  queue.put(3);
  assert.deepEqual([queue.get(), queue.get(), queue.get()], [1, 2, 3]);
  // The next lap needs slot 0 again: nobody waits for P (alive and unmanaged by any oracle).
  bounded(raw).putNowait(4);
  as(p, () => bounded(raw).putNowait(5));
  assert.deepEqual([queue.get(), queue.get()], [4, 5]);
});

Deno.test("Queue race: a claimed slot whose producer gave its name back is recovered", () => {
  const queue = new Queue<number>(4, { codec: "number" });
  const raw = memoryOf(queue);
  const [p, r] = [registerOwner(), registerOwner()];
  const nameOfP = claimedBy(p);
  let givingBack = false;
  const pHook: Hook = (op, args) => {
    if (givingBack) throw new Error("stopped");
    if (op === "compareExchange" && args[0] === SLOTS + SLOT_CLAIMER && args[1] === 0) {
      // P loaded TAIL = 0 and stamp 0, then stalled while a whole lap went by.
      for (let i = 10; i < 14; i++) queue.put(i);
      for (let i = 0; i < 4; i++) queue.get();
    } else if (op === "compareExchange" && args[0] === TAIL && args[1] === 0) {
      // P named slot 0 (now at stamp 4); it is reported dead, and R moves TAIL past the slot.
      markOwnerDead(p);
      as(r, () => queue.put(5));
    } else if (
      op === "compareExchange" && args[0] === SLOTS + SLOT_CLAIMER && args[1] === nameOfP
    ) {
      givingBack = true; // P's TAIL was stale: it gives its name back, then is stopped
    }
  };
  const producerP = new Queue<number>(hookedView(raw, () => pHook), numberCodec);
  as(p, () => untilStopped(() => producerP.put(1), "stopped"));
  assert.equal(queue.stuckProducer(), -1, "slot 0 is claimed and names nobody");
  assert.equal(
    bounded(raw).get({ timeout: 5_000 }),
    5,
    "the nameless slot is skipped, R's item arrives",
  );
  assert.equal(queue.qsize(), 0);
});

Deno.test("JoinableQueue race: a stale mark in a tombstone slot is not wiped by the consumer that releases it", () => {
  const queue = new JoinableQueue<number>(4, { codec: "number" });
  const raw = memoryOf(queue);
  const main = currentOwnerId();
  const d = registerOwner();
  let dHook: Hook, qHook: Hook;
  const producerD = new JoinableQueue<number>(hookedView(raw, () => dHook), numberCodec);
  const producerQ = new JoinableQueue<number>(hookedView(raw, () => qHook), numberCodec);
  dHook = (op, args) => {
    if (op === "add" && args[0] === UNFINISHED && args[1] === 1) {
      // D claimed slot 0 and is about to count: it is reported dead and
      // its slot recovered before it counts.
      markOwnerDead(d);
      as(main, () => {
        assert.throws(() => queue.getNowait(), QueueEmptyError);
        for (let i = 1; i <= 3; i++) queue.put(i);
        for (let i = 1; i <= 3; i++) {
          queue.get();
          queue.taskDone();
        }
        // Slot 0's next lap becomes a tombstone: a put that loses to close().
        qHook = (op2, args2) => {
          if (op2 === "load" && args2[0] === CLOSED) {
            qHook = undefined;
            queue.close();
          }
        };
        assert.throws(() => producerQ.put(99), QueueClosedError);
      });
    } else if (op === "storePlain") {
      // D counted and marked (a stale mark, in the tombstone slot) and
      // writes its item: a consumer releases the tombstone meanwhile.
      dHook = undefined;
      as(main, () => assert.throws(() => queue.getNowait(), QueueClosedError));
    }
  };
  // D's publish fails; it uncounts, puts again and finds the queue closed.
  assert.throws(() => as(d, () => producerD.put(42)), QueueClosedError);
  assert.equal(queue.qsize(), 0);
  assert.equal(queue.unfinishedTasks, 0, "D's count was undone");
  assert.equal(queue.join({ timeout: 100 }), true);
});

Deno.test("Queue race: a producer whose slot was recovered while it found the queue closed gives its name back", () => {
  const { raw, run } = staleHolder(1, (queue, raw, [cell, expected, replacement]) => {
    assert.equal(
      raw.compareExchange(cell, expected, replacement),
      0,
      "the consumer recovers slot 0",
    );
    queue.close();
  });
  assert.throws(run, QueueClosedError);
  assert.equal(raw.load(SLOTS + SLOT_CLAIMER), 0, "no name left in the freed slot");
  // A producer that started its put before close() is not held off.
  assert.throws(() => bounded(raw, { startedBeforeClose: true }).put(7), QueueClosedError);
});
