/**
 * ringbuf.js 0.4.0 (npm) between two workers, ready to run its own workload:
 * Int32 elements `0, 1, 2, ...` moved `batch` at a time, capacity 4096
 * elements, both sides busy-spinning (the library has no blocking API), every
 * element checked by the consumer. Used as the baseline rows by
 * `bench/peers/ringbuf.bench.ts` and as the paired reference run of the
 * module's `RingBuffer` rows in `bench/queues.bench.ts`.
 *
 * @module
 */

// deno-lint-ignore no-import-prefix -- bench-only peer, kept out of deno.json's imports
import { RingBuffer } from "npm:ringbuf.js@0.4.0";
import { runRound, startReadyWorker } from "../_harness.ts";
import { RB } from "./_ringbuf_layout.ts";

/** Two ringbuf.js workers (producer, consumer) waiting for work. */
export interface RingbufPeer {
  /** Moves `count` elements `batch` at a time; throws if one was wrong or a side stalled. */
  transfer(batch: number, count: number): Promise<void>;
  /** Stops both workers. */
  close(): void;
}

/** Starts the two workers; rejects if ringbuf.js does not load here. */
export async function startRingbufPeer(): Promise<RingbufPeer> {
  const control = new Int32Array(new SharedArrayBuffer(RB.SIZE * 4));
  const workers: Worker[] = [];
  const close = (): void => {
    Atomics.store(control, RB.GO, -1);
    Atomics.notify(control, RB.GO);
    for (const worker of workers) worker.terminate();
  };
  try {
    const storage = RingBuffer.getStorageForCapacity(4096, Int32Array);
    for (const role of ["consumer", "producer"] as const) {
      const url = new URL("./_ringbuf_worker.ts", import.meta.url);
      await startReadyWorker(workers, url, { role, storage, control }, "ringbuf.js worker");
    }
  } catch (error) {
    close();
    throw error;
  }
  return {
    async transfer(batch: number, count: number): Promise<void> {
      Atomics.store(control, RB.BATCH, batch);
      Atomics.store(control, RB.COUNT, count);
      const cells = { go: RB.GO, done: RB.DONE, error: RB.ERROR };
      const error = await runRound(control, cells, 2, 60_000);
      if (error !== 0) throw new Error(`ringbuf.js transfer failed (code ${error})`);
    },
    close,
  };
}
