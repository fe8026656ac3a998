/**
 * Main side of the linearizability runs: creates one fresh primitive per
 * round (all in one shared buffer), runs the workers, merges each round's
 * operations into a history and checks it against the sequential model.
 */
import { Mutex } from "../../primitives/mutex.ts";
import { Queue } from "../../primitives/queue.ts";
import { RingBuffer } from "../../primitives/ring_buffer.ts";
import { Semaphore } from "../../primitives/semaphore.ts";
import type { MemoryAllocator } from "../../primitives/_header.ts";
import {
  checkLinearizable,
  mutexModel,
  type Operation,
  queueModel,
  ringBufferModel,
  semaphoreModel,
  type SequentialModel,
} from "../../shm/checking/linearizability.ts";
import { SabMemory } from "../../shm/sab_memory.ts";
import { WorkerGroup } from "../_helpers.ts";
import type { HistoryJob } from "./history_tasks.ts";

const TASKS = new URL("./history_tasks.ts", import.meta.url);

/** One kind of history run. */
export interface HistorySpec {
  /** Which round function the workers run. */
  kind: HistoryJob["kind"];
  /** Workers. */
  threads: number;
  /** Operations each worker starts per round (a lock+unlock pair counts once). */
  opsPerThread: number;
  /** Creates the primitive of one round; returns its handle. */
  create(allocate: MemoryAllocator): unknown;
  /** Bytes of shared memory one round's primitive needs (at most). */
  bytesPerRound: number;
  /** The sequential model. */
  // deno-lint-ignore no-explicit-any
  model: SequentialModel<any, any, any>;
}

/** The specs checked by the tests and the long profile. */
export const HISTORY_SPECS: Record<string, HistorySpec> = {
  mutex: {
    kind: "mutex",
    threads: 2,
    opsPerThread: 3,
    bytesPerRound: 128,
    create: (allocate) => new Mutex({ allocate }).handle,
    model: mutexModel(),
  },
  semaphore: {
    kind: "semaphore",
    threads: 2,
    opsPerThread: 3,
    bytesPerRound: 128,
    create: (allocate) => new Semaphore(1, { allocate }).handle,
    model: semaphoreModel(1),
  },
  semaphore2: {
    kind: "semaphore",
    threads: 3,
    opsPerThread: 3,
    bytesPerRound: 128,
    create: (allocate) => new Semaphore(2, { allocate }).handle,
    model: semaphoreModel(2),
  },
  queue: {
    kind: "queue",
    threads: 2,
    opsPerThread: 5,
    bytesPerRound: 8192,
    create: (allocate) => new Queue<number>(2, { allocate, codec: "number" }).handle,
    model: queueModel(2),
  },
  queue3: {
    kind: "queue",
    threads: 3,
    opsPerThread: 4,
    bytesPerRound: 8192,
    create: (allocate) => new Queue<number>(1, { allocate, codec: "number" }).handle,
    model: queueModel(1),
  },
  ring: {
    kind: "ring",
    threads: 2,
    opsPerThread: 5,
    bytesPerRound: 512,
    create: (allocate) => new RingBuffer(16, { allocate }).handle,
    model: ringBufferModel(16),
  },
};

/** BROKEN ON PURPOSE: a one-permit semaphore with a load+store decrement. */
export const RACY_SEMAPHORE_SPEC: HistorySpec = {
  kind: "racy-semaphore",
  threads: 2,
  opsPerThread: 3,
  bytesPerRound: 64,
  create: (allocate) => {
    const memory = allocate(8);
    memory.store(0, 1);
    return memory.handle();
  },
  model: semaphoreModel(1),
};

/** An allocator that carves many small memories out of one shared buffer. */
function arena(bytes: number): MemoryAllocator {
  const buffer = new SharedArrayBuffer(bytes);
  let top = 0;
  return (byteLength) => {
    const length = (byteLength + 3) & ~3;
    const memory = new SabMemory(buffer, top, length);
    top += (length + 63) & ~63; // each on its own cache lines
    return memory;
  };
}

/** The outcome of checking many histories. */
export interface HistoryReport {
  /** Histories checked. */
  histories: number;
  /** Operations in them. */
  operations: number;
  /** Histories per second (recording and checking). */
  perSecond: number;
  /** Histories in which operations of different threads overlap in time. */
  concurrent: number;
  /** The first non-linearizable history, described. */
  failure?: string;
}

/** Records `rounds` histories of `spec` in real workers and checks each one. */
export async function checkHistories(
  spec: HistorySpec,
  rounds: number,
  seed: number = 1,
): Promise<HistoryReport> {
  const start = performance.now();
  const allocate = arena(rounds * spec.bytesPerRound);
  const handles = Array.from({ length: rounds }, () => spec.create(allocate));
  const clock = new SharedArrayBuffer(4);
  const roundCells = new SharedArrayBuffer(8);
  using group = new WorkerGroup();
  const results = await Promise.all(
    Array.from(
      { length: spec.threads },
      (_, thread) =>
        group.run<Operation[][]>(
          TASKS,
          "runHistoryJob",
          {
            kind: spec.kind,
            handles,
            clock,
            rounds: roundCells,
            thread,
            threads: spec.threads,
            opsPerThread: spec.opsPerThread,
            seed,
          } satisfies HistoryJob,
        ),
    ),
  );
  let operations = 0;
  let concurrent = 0;
  let failure: string | undefined;
  for (let round = 0; round < rounds && failure === undefined; round++) {
    const history = results.flatMap((perThread) => perThread[round]);
    operations += history.length;
    if (overlaps(history)) concurrent++;
    const verdict = checkLinearizable(spec.model, history);
    if (!verdict.ok) {
      failure = `round ${round} of ${spec.model.name} is not linearizable:\n${verdict.description}`;
    }
  }
  const elapsed = performance.now() - start;
  return {
    histories: rounds,
    operations,
    concurrent,
    perSecond: rounds / (elapsed / 1000),
    failure,
  };
}

/** Whether two operations of different threads overlap in time. */
function overlaps(history: readonly Operation[]): boolean {
  for (const a of history) {
    for (const b of history) {
      if (a.thread !== b.thread && a.invoke < b.invoke && b.invoke < a.response) return true;
    }
  }
  return false;
}
