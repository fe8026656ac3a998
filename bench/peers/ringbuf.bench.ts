/**
 * Peer: ringbuf.js 0.4.0 (npm), the SPSC ring buffer most used on SAB, on
 * its own workload (issue 3's bar): Int32 elements between two workers, one
 * at a time and in batches of 64, capacity 4096, both sides busy-spinning.
 * Every element's value is checked by the consumer (`_ringbuf_peer.ts`).
 *
 * The module's own `RingBuffer` on the same workload is in
 * `bench/queues.bench.ts`; the runner shows both in the table
 * `threads: ringbuf.js workload` when that file uses the same question name.
 * Those rows also run ringbuf.js just before each of their iterations and
 * report the paired speed ratio, which the bar is checked against.
 *
 * Run: `deno bench -A bench/peers/ringbuf.bench.ts` (or through `bench/run.ts`).
 *
 * @module
 */

import { bench, QUICK, skipped } from "../_harness.ts";
import { type RingbufPeer, startRingbufPeer } from "./_ringbuf_peer.ts";

const QUESTION = "threads: ringbuf.js workload";
let peer: RingbufPeer | undefined;
try {
  peer = await startRingbufPeer();
} catch (error) {
  skipped(QUESTION, "ringbuf.js", `does not run here: ${error}`);
}
globalThis.addEventListener("unload", () => peer?.close());

if (peer !== undefined) {
  const ready = peer;
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
      fn: () => ready.transfer(batch, count),
    });
  }
}
