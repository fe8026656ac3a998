/** Functions run inside workers by tests/condition_test.ts. */
import { Condition, type ConditionHandle } from "../../primitives/condition.ts";

/**
 * Takes the lock, counts itself in ready[0], waits once (timeout optional),
 * and while still holding the lock records its id in wake order
 * (log[0] = count, log[1..] = ids) if it was notified. Returns the result.
 */
export function waitOnce(
  handle: ConditionHandle,
  id: number,
  ready: Int32Array,
  log: Int32Array,
  timeout?: number,
): boolean {
  const cond = Condition.from(handle);
  cond.lock();
  try {
    Atomics.add(ready, 0, 1);
    Atomics.notify(ready, 0);
    const notified = cond.wait({ timeout });
    if (!cond.getLock().heldByCurrentThread()) throw new Error("lock not re-acquired");
    if (notified) {
      const position = Atomics.add(log, 0, 1);
      Atomics.store(log, 1 + position, id);
      Atomics.notify(log, 0);
    }
    return notified;
  } finally {
    cond.unlock();
  }
}

/** Holds the lock `depth` times (a RecursiveMutex), waits, reports [notified, depth after]. */
export function waitRecursive(
  handle: ConditionHandle,
  depth: number,
  ready: Int32Array,
  timeout?: number,
): [boolean, number] {
  const cond = Condition.from(handle);
  for (let i = 0; i < depth; i++) cond.lock();
  Atomics.add(ready, 0, 1);
  Atomics.notify(ready, 0);
  const notified = cond.wait({ timeout });
  const lock = cond.getLock() as { depth?: number };
  const after = lock.depth ?? -1;
  for (let i = 0; i < depth; i++) cond.unlock();
  return [notified, after];
}

/** Takes the lock, notifies `n` (or all with n < 0), releases; returns how many woke. */
export function notifyFromHere(handle: ConditionHandle, n: number): number {
  const cond = Condition.from(handle);
  return cond.withLock(() => (n < 0 ? cond.notifyAll() : cond.notify(n)));
}

/** `times` times, every `everyMs`: under the lock, adds 1 to state[0] and notifies all. */
export function bumpAndNotify(
  handle: ConditionHandle,
  state: Int32Array,
  times: number,
  everyMs: number,
): number {
  const cond = Condition.from(handle);
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < times; i++) {
    Atomics.wait(sleeper, 0, 0, everyMs);
    cond.withLock(() => {
      Atomics.add(state, 0, 1);
      cond.notifyAll();
    });
  }
  return times;
}

/** Holds the condition's lock for `holdMs` after setting flag[0] = 1. */
export function holdLock(handle: ConditionHandle, flag: Int32Array, holdMs: number): boolean {
  const cond = Condition.from(handle);
  cond.withLock(() => {
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
    Atomics.wait(flag, 1, 0, holdMs);
  });
  return true;
}

/** Calls `notify()` without holding the lock; returns the error's name. */
export function notifyWithoutLock(handle: ConditionHandle): string {
  try {
    Condition.from(handle).notify();
    return "no error";
  } catch (err) {
    return (err as Error).name;
  }
}

// ---- bounded buffer: two conditions (notEmpty, notFull) sharing one lock ----
// buffer layout: [head, tail, count, consumed, produced, slots...]
const HEAD = 0, TAIL = 1, COUNT = 2, CONSUMED = 3;
const SLOTS = 5;

/** Puts `n` items `producer * 2^20 + seq` (seq = 1..n) into the shared bounded buffer. */
export function produce(
  notEmptyHandle: ConditionHandle,
  notFullHandle: ConditionHandle,
  buffer: Int32Array,
  capacity: number,
  producer: number,
  n: number,
): number {
  const notEmpty = Condition.from(notEmptyHandle);
  const notFull = Condition.from(notFullHandle);
  for (let seq = 1; seq <= n; seq++) {
    notFull.withLock(() => {
      if (!notFull.waitFor(() => buffer[COUNT] < capacity, { timeout: 20_000 })) {
        throw new Error("producer timed out");
      }
      buffer[SLOTS + buffer[TAIL]] = producer * 2 ** 20 + seq;
      buffer[TAIL] = (buffer[TAIL] + 1) % capacity;
      buffer[COUNT]++;
      notEmpty.notify();
    });
  }
  return n;
}

/**
 * Takes items until `total` have been consumed by all consumers together.
 * Returns [items taken, sum of seq numbers, per-producer order kept (1/0)].
 */
export function consume(
  notEmptyHandle: ConditionHandle,
  notFullHandle: ConditionHandle,
  buffer: Int32Array,
  capacity: number,
  total: number,
): [number, number, number] {
  const notEmpty = Condition.from(notEmptyHandle);
  const notFull = Condition.from(notFullHandle);
  let taken = 0, sum = 0, ordered = 1;
  const last = new Map<number, number>();
  for (;;) {
    const item = notEmpty.withLock(() => {
      const ok = notEmpty.waitFor(() => buffer[COUNT] > 0 || buffer[CONSUMED] === total, {
        timeout: 20_000,
      });
      if (!ok) throw new Error("consumer timed out");
      if (buffer[COUNT] === 0) return -1; // everything consumed
      const value = buffer[SLOTS + buffer[HEAD]];
      buffer[HEAD] = (buffer[HEAD] + 1) % capacity;
      buffer[COUNT]--;
      buffer[CONSUMED]++;
      if (buffer[CONSUMED] === total) notEmpty.notifyAll(); // release the other consumers
      notFull.notify();
      return value;
    });
    if (item < 0) return [taken, sum, ordered];
    const producer = Math.floor(item / 2 ** 20);
    const seq = item % 2 ** 20;
    if ((last.get(producer) ?? 0) >= seq) ordered = 0;
    last.set(producer, seq);
    taken++;
    sum += seq;
  }
}
