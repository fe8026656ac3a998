/**
 * Peer: ringbuf.js 0.4.0 (npm), the SPSC ring buffer most used on SAB, on
 * its own workload (issue 3's bar): Int32 elements between two workers, one
 * at a time and in batches of 64, capacity 4096, both sides busy-spinning.
 * Every element's value is checked by the consumer.
 *
 * The module's own `RingBuffer` on the same workload is in
 * `bench/queues.bench.ts`; the runner shows both in the table
 * `threads: ringbuf.js workload` when that file uses the same question name.
 *
 * Run: `deno bench -A bench/peers/ringbuf.bench.ts` (or through `bench/run.ts`).
 *
 * @module
 */

// deno-lint-ignore no-import-prefix -- bench-only peer, kept out of deno.json's imports
import { RingBuffer } from "npm:ringbuf.js@0.4.0";
import { bench, QUICK, skipped } from "../_harness.ts";
import { RB } from "./_ringbuf_layout.ts";

const QUESTION = "threads: ringbuf.js workload";
const control = new Int32Array(new SharedArrayBuffer(RB.SIZE * 4));
const workers: Worker[] = [];

try {
  const storage = RingBuffer.getStorageForCapacity(4096, Int32Array);
  for (const role of ["consumer", "producer"] as const) {
    const worker = new Worker(new URL("./_ringbuf_worker.ts", import.meta.url), {
      type: "module",
    });
    workers.push(worker);
    await new Promise<void>((resolve, reject) => {
      worker.onmessage = () => resolve();
      worker.onerror = (event) => {
        event.preventDefault();
        reject(new Error(event.message));
      };
      worker.postMessage({ role, storage, control });
    });
  }
} catch (error) {
  skipped(QUESTION, "ringbuf.js", `does not run here: ${error}`);
}

globalThis.addEventListener("unload", () => {
  Atomics.store(control, RB.GO, -1);
  Atomics.notify(control, RB.GO);
  for (const worker of workers) worker.terminate();
});

function transfer(batch: number, count: number): void {
  Atomics.store(control, RB.BATCH, batch);
  Atomics.store(control, RB.COUNT, count);
  Atomics.store(control, RB.ERROR, 0);
  Atomics.store(control, RB.DONE, 0);
  Atomics.add(control, RB.GO, 1);
  Atomics.notify(control, RB.GO);
  for (let done = 0; done < 2; done = Atomics.load(control, RB.DONE)) {
    Atomics.wait(control, RB.DONE, done, 60_000);
  }
  const error = Atomics.load(control, RB.ERROR);
  if (error !== 0) throw new Error(`ringbuf.js transfer failed (code ${error})`);
}

if (workers.length === 2) {
  for (const batch of [1, 64]) {
    const count = (batch === 1 ? 1_000_000 : 8_000_000) / (QUICK ? 4 : 1);
    bench({
      question: QUESTION,
      name: "ringbuf.js (npm)",
      workload: `int32 batch=${batch}`,
      metric: "rate",
      op: "elem",
      opsPerIter: count,
      baseline: true,
      fn: () => transfer(batch, count),
    });
  }
}
