/** Functions run inside workers by tests/ring_buffer_test.ts. */
import { RingBuffer, type RingBufferHandle } from "../../primitives/ring_buffer.ts";

/** A small seeded PRNG (mulberry32), the same on both sides. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Message `i` of a seeded stream: a length in [0, maxLength] and bytes derived from (seed, i). */
export function message(random: () => number, i: number, maxLength: number): Uint8Array {
  const length = Math.floor(random() * (maxLength + 1));
  const bytes = new Uint8Array(length);
  for (let j = 0; j < length; j++) bytes[j] = (i * 31 + j * 7 + length) & 0xff;
  return bytes;
}

/** Pushes `n` seeded messages, alternating single and batched pushes. */
export function pushMessages(
  handle: RingBufferHandle,
  seed: number,
  n: number,
  maxLength: number,
): number {
  const ring = RingBuffer.from(handle);
  const random = prng(seed);
  let i = 0;
  while (i < n) {
    if (random() < 0.5) {
      ring.push(message(random, i, maxLength));
      i++;
    } else {
      const batch: Uint8Array[] = [];
      const size = 1 + Math.floor(random() * 16);
      for (let k = 0; k < size && i < n; k++, i++) batch.push(message(random, i, maxLength));
      if (ring.pushMany(batch) !== batch.length) throw new Error("pushMany stopped early");
    }
  }
  return n;
}

/** Pops `n` messages and compares each with the seeded stream; returns [count, mismatches]. */
export function popMessages(
  handle: RingBufferHandle,
  seed: number,
  n: number,
  maxLength: number,
): [number, number] {
  const ring = RingBuffer.from(handle);
  const random = prng(seed);
  let mismatches = 0;
  let i = 0;
  const check = (got: Uint8Array) => {
    // Replay the producer's random choices to know what message i is.
    const expected = expectedStream.next(i);
    if (got.length !== expected.length) mismatches++;
    else {for (let j = 0; j < got.length; j++) {
        if (got[j] !== expected[j]) {
          mismatches++;
          break;
        }
      }}
    i++;
  };
  // The producer interleaves batch-size draws with message draws; replay it.
  const expectedStream = replay(random, n, maxLength);
  while (i < n) {
    if (i % 3 === 0) {
      for (const got of ring.popMany(8)) check(got);
    } else {
      check(ring.pop()!);
    }
  }
  return [i, mismatches];
}

/** Replays the producer's draws and yields the expected messages in order. */
function replay(
  random: () => number,
  n: number,
  maxLength: number,
): { next(i: number): Uint8Array } {
  const pending: Uint8Array[] = [];
  let produced = 0;
  let read = 0;
  return {
    next(_i: number): Uint8Array {
      while (pending.length <= read - 0 && produced < n) {
        if (random() < 0.5) {
          pending.push(message(random, produced, maxLength));
          produced++;
        } else {
          const size = 1 + Math.floor(random() * 16);
          for (let k = 0; k < size && produced < n; k++, produced++) {
            pending.push(message(random, produced, maxLength));
          }
        }
      }
      return pending[read++];
    },
  };
}

/** Pushes 0..n-1 as int32 in batches of `batch` (and single pushes when batch is 1). */
export function pushInts(handle: RingBufferHandle, n: number, batch: number): number {
  const ring = RingBuffer.from(handle);
  if (batch === 1) {
    for (let i = 0; i < n; i++) ring.pushNumber(i);
    return n;
  }
  const values = new Int32Array(batch);
  for (let i = 0; i < n; i += batch) {
    const size = Math.min(batch, n - i);
    for (let k = 0; k < size; k++) values[k] = i + k;
    ring.pushNumbers(size === batch ? values : values.subarray(0, size));
  }
  return n;
}

/** Pops n int32 (in batches into a target of `batch`); returns [count, order violations, sum]. */
export function popInts(
  handle: RingBufferHandle,
  n: number,
  batch: number,
): [number, number, number] {
  const ring = RingBuffer.from(handle);
  let expected = 0;
  let violations = 0;
  let sum = 0;
  if (batch === 1) {
    for (let i = 0; i < n; i++) {
      const v = ring.popNumber()!;
      if (v !== expected) violations++;
      expected = v + 1;
      sum += v;
    }
    return [n, violations, sum];
  }
  const target = new Int32Array(batch);
  let count = 0;
  while (count < n) {
    const got = ring.popNumbers(target);
    for (let k = 0; k < got; k++) {
      if (target[k] !== expected) violations++;
      expected = target[k] + 1;
      sum += target[k];
    }
    count += got;
  }
  return [count, violations, sum];
}

/** Blocks in pop() after signalling; returns the error name it ends with. */
export function blockedPop(handle: RingBufferHandle, flag: Int32Array): string {
  const ring = RingBuffer.from(handle);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
  try {
    ring.pop();
    return "popped";
  } catch (err) {
    return (err as Error).name;
  }
}

/** Signals, then pushes `value` into a full ring (blocking, no timeout); returns whether it was pushed. */
export function blockedPushNumber(
  handle: RingBufferHandle,
  flag: Int32Array,
  value: number,
): boolean {
  const ring = RingBuffer.from(handle);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
  return ring.pushNumber(value);
}
