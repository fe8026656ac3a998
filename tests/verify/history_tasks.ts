/**
 * Worker side of the linearizability runs: each worker runs `rounds` short
 * rounds against a fresh primitive per round, under real concurrency, and
 * records every operation with invocation/response readings of a shared
 * atomic clock. The rounds start together (a round barrier), so the
 * operations of one round overlap.
 */
import { Mutex, type MutexHandle } from "../../primitives/mutex.ts";
import { Queue, type QueueHandle } from "../../primitives/queue.ts";
import { RingBuffer, type RingBufferHandle } from "../../primitives/ring_buffer.ts";
import { Semaphore, type SemaphoreHandle } from "../../primitives/semaphore.ts";
import { HistoryClock, type Operation } from "../../shm/checking/linearizability.ts";
import type { MemoryHandle } from "../../shm/memory.ts";
import { SabMemory } from "../../shm/sab_memory.ts";

/** Everything a worker needs for one run. */
export interface HistoryJob {
  kind: "mutex" | "semaphore" | "ring" | "queue" | "racy-semaphore";
  handles: unknown[];
  clock: SharedArrayBuffer;
  rounds: SharedArrayBuffer;
  thread: number;
  threads: number;
  opsPerThread: number;
  seed: number;
}

/**
 * Waits until all `threads` workers arrived at round `round`, then until all
 * of them are awake. The arrival may sleep (a descheduled worker must not
 * make the others burn the cores); the second phase spins, bounded, so that
 * the workers leave within a fraction of a microsecond of each other (a
 * sleeper woken by a notify lags by tens of microseconds, longer than a whole
 * round, and the operations would not overlap).
 */
export function roundBarrier(cells: Int32Array, threads: number, round: number): void {
  const target = threads * (round + 1);
  if (Atomics.add(cells, 0, 1) + 1 === target) {
    Atomics.notify(cells, 0);
  } else {
    for (let spin = 0; spin < 20_000; spin++) {
      if (Atomics.load(cells, 0) >= target) break;
    }
    for (;;) {
      const seen = Atomics.load(cells, 0);
      if (seen >= target) break;
      Atomics.wait(cells, 0, seen, 50);
    }
  }
  Atomics.add(cells, 1, 1);
  for (let spin = 0; spin < 20_000; spin++) {
    if (Atomics.load(cells, 1) >= target) return;
  }
}

function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Log = Operation[];

let sink = 0;
/** Busy-waits a random few hundred iterations: spreads the operations so that they overlap. */
export function jitter(random: () => number): void {
  const n = Math.floor(random() * 2_000);
  for (let i = 0; i < n; i++) sink = (sink + i) | 0;
}
type RoundFn = (
  log: Log,
  clock: HistoryClock,
  handle: unknown,
  job: HistoryJob,
  random: () => number,
) => void;

const mutexRound: RoundFn = (log, clock, handle, job, random) => {
  const mutex = Mutex.from(handle as MutexHandle);
  const t = job.thread;
  for (let i = 0; i < job.opsPerThread; i++) {
    jitter(random);
    const held = random() < 0.5
      ? clock.record(log, t, { op: "lock" }, () => mutex.lock())
      : clock.record(log, t, { op: "tryLock" }, () => mutex.tryLock());
    if (held) clock.record(log, t, { op: "unlock" }, () => (mutex.unlock(), "ok"));
  }
};

const semaphoreRound: RoundFn = (log, clock, handle, job, random) => {
  const semaphore = Semaphore.from(handle as SemaphoreHandle);
  const t = job.thread;
  for (let i = 0; i < job.opsPerThread; i++) {
    jitter(random);
    const r = random();
    const held = r < 0.4
      ? clock.record(log, t, { op: "acquire" }, () => semaphore.acquire({ timeout: 1 }))
      : clock.record(log, t, { op: "tryAcquire" }, () => semaphore.tryAcquire());
    if (held) clock.record(log, t, { op: "release" }, () => (semaphore.release(), "ok"));
  }
};

/** Thread 0 pushes messages (id in the first byte), thread 1 pops them. */
const ringRound: RoundFn = (log, clock, handle, job, random) => {
  const ring = RingBuffer.from(handle as RingBufferHandle);
  const t = job.thread;
  for (let i = 0; i < job.opsPerThread; i++) {
    jitter(random);
    if (t === 0) {
      const id = i + 1;
      const length = 1 + Math.floor(random() * 8);
      const message = new Uint8Array(length).fill(id);
      clock.record(log, t, { op: "push", id, length }, () => ring.tryPush(message));
    } else {
      clock.record(log, t, { op: "pop" }, () => {
        const message = ring.tryPop();
        if (message === undefined) return null;
        if (message.some((b) => b !== message[0])) return -1; // torn message
        return message[0];
      });
    }
  }
};

/** Every thread puts and gets, blocking with a short timeout or not at all. */
const queueRound: RoundFn = (log, clock, handle, job, random) => {
  const queue = Queue.from<number>(handle as QueueHandle);
  const t = job.thread;
  const outcome = (fn: () => number | void, failure: string) => () => {
    try {
      const value = fn();
      return value === undefined ? "ok" : value;
    } catch (err) {
      if ((err as Error).name === failure) return failure === "QueueFullError" ? "full" : "empty";
      throw err;
    }
  };
  for (let i = 0; i < job.opsPerThread; i++) {
    jitter(random);
    const r = random();
    const value = t * 100 + i;
    if (r < 0.3) {
      clock.record(
        log,
        t,
        { op: "put", value },
        outcome(() => queue.putNowait(value), "QueueFullError"),
      );
    } else if (r < 0.5) {
      clock.record(
        log,
        t,
        { op: "put", value },
        outcome(() => queue.put(value, { timeout: 0.05 }), "QueueFullError"),
      );
    } else if (r < 0.8) {
      clock.record(log, t, { op: "get" }, outcome(() => queue.getNowait(), "QueueEmptyError"));
    } else {
      clock.record(
        log,
        t,
        { op: "get" },
        outcome(() => queue.get({ timeout: 0.05 }), "QueueEmptyError"),
      );
    }
  }
};

/**
 * BROKEN ON PURPOSE: the semaphore decrement as a load followed by a store
 * (see `broken/broken_semaphore.ts`), on a plain shared cell, to show that
 * the history check catches it under real concurrency too.
 */
const racySemaphoreRound: RoundFn = (log, clock, handle, job, random) => {
  const memory = SabMemory.from(handle as MemoryHandle);
  const t = job.thread;
  const tryAcquireRacy = () => {
    const value = memory.load(0);
    if (value <= 0) return false;
    memory.store(0, value - 1);
    return true;
  };
  for (let i = 0; i < job.opsPerThread; i++) {
    jitter(random);
    if (clock.record(log, t, { op: "tryAcquire" }, tryAcquireRacy)) {
      clock.record(log, t, { op: "release" }, () => (memory.add(0, 1), "ok"));
    }
  }
};

const ROUNDS: Record<HistoryJob["kind"], RoundFn> = {
  "racy-semaphore": racySemaphoreRound,
  mutex: mutexRound,
  semaphore: semaphoreRound,
  ring: ringRound,
  queue: queueRound,
};

/** Runs every round of a job; returns this worker's operations, per round. */
export function runHistoryJob(job: HistoryJob): Operation[][] {
  const fn = ROUNDS[job.kind];
  const clock = new HistoryClock(job.clock);
  const cells = new Int32Array(job.rounds, 0, 2);
  const random = generator(job.seed * 31 + job.thread);
  const out: Operation[][] = [];
  for (let round = 0; round < job.handles.length; round++) {
    roundBarrier(cells, job.threads, round);
    const log: Operation[] = [];
    fn(log, clock, job.handles[round], job, random);
    out.push(log);
  }
  return out;
}
