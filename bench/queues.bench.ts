/**
 * Queues (issue 3): `RingBuffer` and `Queue` between two workers, carrying
 * the same messages as the message-passing baselines (`ipc/_messages.ts`:
 * `int4`, `b64`, `json`), every message checked on arrival.
 *
 * - `threads: throughput`: one worker produces, the other consumes. The
 *   baselines (`postMessage`, `MessageChannel` worker→worker) are in
 *   `bench/ipc/threads.bench.ts`; `bench/run.ts` puts both files in one
 *   table with the ratios. Bar: RingBuffer ≥ 10× and Queue ≥ 5×
 *   postMessage for small messages; JSON ≥ 2×.
 * - `threads: round trip`: ping-pong over two rings / two queues, both
 *   workers active (each spins briefly before it sleeps). Bar: Queue ≤ 1/20
 *   of the postMessage round trip.
 * - `threads: ringbuf.js workload`: single Int32 elements and batches of 64,
 *   the workload of `bench/peers/ringbuf.bench.ts` (ringbuf.js 0.4.0 from
 *   npm, the baseline there). Bar: RingBuffer at least as fast. Same storage
 *   (16 KiB), every element checked on both sides. Two rows: our blocking
 *   push/pop (spin, then futex sleep), and the non-blocking `try*` calls in
 *   a busy-poll loop, which is ringbuf.js's own loop (it has no blocking
 *   API). Ours also pays per call for what ringbuf.js lacks: the closed
 *   check, the sleeping-flag check that makes blocking possible, and a
 *   frame header per run (one per single element: 2 cells per int32).
 *   Each of these iterations runs ringbuf.js on the same count just before
 *   it (untimed) and reports the paired speed ratio (`pairedSpeed`), which is
 *   what the runner checks the bar against.
 *
 * Each iteration starts both workers from a go-signal in shared memory (no
 * postMessage inside the timed part) and fails if any message is wrong.
 * Iterations move more messages than the baselines' (the rows are compared
 * as rates, so batch sizes may differ) so that the go/done signalling stays
 * small beside the work.
 *
 * Run: `deno bench -A bench/queues.bench.ts` (or through `bench/run.ts`,
 * with `bench/ipc/threads.bench.ts` and `bench/peers/ringbuf.bench.ts` for the
 * baselines).
 *
 * @module
 */

import { Queue } from "../primitives/queue.ts";
import { RingBuffer } from "../primitives/ring_buffer.ts";
import { bench, QUICK, runRound, startReadyWorker } from "./_harness.ts";
import { type RingbufPeer, startRingbufPeer } from "./peers/_ringbuf_peer.ts";
import { type CaseName, CASES, QB } from "./_workers/queues_layout.ts";

const scale = QUICK ? 0.25 : 1;
const control = new Int32Array(new SharedArrayBuffer(QB.SIZE * 4));
const rings = {
  int: new RingBuffer(64 * 1024),
  bytes: new RingBuffer(64 * 1024),
  ping: new RingBuffer(64),
  pong: new RingBuffer(64),
  elements: new RingBuffer(16 * 1024),
  big: new RingBuffer(1 << 20),
  bigPing: new RingBuffer(1 << 18),
  bigPong: new RingBuffer(1 << 18),
};
const queues = {
  int: new Queue<number>(1024, { codec: "number" }),
  bytes: new Queue<Uint8Array>(1024, { codec: "bytes", maxMessageBytes: 64 }),
  json: new Queue(1024, { codec: "json", maxMessageBytes: 64 }),
  ping: new Queue<number>(1, { codec: "number" }),
  pong: new Queue<number>(1, { codec: "number" }),
  big: new Queue<Uint8Array>(16, { codec: "bytes", maxMessageBytes: 65536 }),
  bigPing: new Queue<Uint8Array>(1, { codec: "bytes", maxMessageBytes: 65536 }),
  bigPong: new Queue<Uint8Array>(1, { codec: "bytes", maxMessageBytes: 65536 }),
};

const workers: Worker[] = [];
for (const role of ["b", "a"] as const) {
  await startReadyWorker(
    workers,
    new URL("./_workers/queues_worker.ts", import.meta.url),
    {
      role,
      control,
      rings: Object.fromEntries(Object.entries(rings).map(([k, r]) => [k, r.handle])),
      queues: Object.fromEntries(Object.entries(queues).map(([k, q]) => [k, q.handle])),
    },
    "queues bench worker",
  );
}

globalThis.addEventListener("unload", () => {
  Atomics.store(control, QB.GO, -1);
  Atomics.notify(control, QB.GO);
  for (const worker of workers) worker.terminate();
});

/** Runs one iteration of `name` moving `count` messages; throws if any was wrong. */
async function transfer(name: CaseName, count: number): Promise<void> {
  Atomics.store(control, QB.CASE, CASES.indexOf(name));
  Atomics.store(control, QB.COUNT, count);
  const error = await runRound(control, { go: QB.GO, done: QB.DONE, error: QB.ERROR }, 2, 120_000);
  if (error !== 0) throw new Error(`${name}: message ${error - 1} was wrong (or a side stalled)`);
}

const THROUGHPUT: [workload: string, ring: CaseName, queue: CaseName, count: number][] = [
  ["int4", "ring-int4", "queue-int4", 400_000],
  ["b64", "ring-b64", "queue-b64", 200_000],
  ["json", "ring-json", "queue-json", 50_000],
];

for (const [workload, ringCase, queueCase, fullCount] of THROUGHPUT) {
  const count = Math.round(fullCount * scale);
  bench({
    question: "threads: throughput",
    name: "RingBuffer (worker→worker)",
    workload,
    metric: "rate",
    op: "msg",
    opsPerIter: count,
    fn: () => transfer(ringCase, count),
  });
  bench({
    question: "threads: throughput",
    name: "Queue (worker→worker)",
    workload,
    metric: "rate",
    op: "msg",
    opsPerIter: count,
    fn: () => transfer(queueCase, count),
  });
  if (workload === "int4") {
    // The same 4 bytes as a byte message (the rows above use the number paths).
    for (
      const [name, which] of [["RingBuffer bytes", "ring-bytes4"], [
        "Queue bytes",
        "queue-bytes4",
      ]] as const
    ) {
      bench({
        question: "threads: throughput",
        name: `${name} (worker→worker)`,
        workload,
        metric: "rate",
        op: "msg",
        opsPerIter: count,
        fn: () => transfer(which, count),
      });
    }
  }
}

// 64 KiB blocks (the block check samples bytes; both sides copy every byte).
{
  const count = Math.round(8_000 * scale);
  for (const [name, which] of [["RingBuffer", "ring-b64k"], ["Queue", "queue-b64k"]] as const) {
    bench({
      question: "threads: throughput",
      name: `${name} (worker→worker)`,
      workload: "b64k",
      metric: "rate",
      op: "msg",
      opsPerIter: count,
      fn: () => transfer(which, count),
    });
  }
}

const roundTrips = Math.round(20_000 * scale);
// Round trips of byte messages: 64 bytes, JSON text, 64 KiB (checked on both sides).
for (const [workload, perIter] of [["b64", 10_000], ["json", 10_000], ["b64k", 2_000]] as const) {
  const n = Math.round(perIter * scale);
  for (const kind of ["RingBuffer", "Queue"] as const) {
    const which = `${kind === "RingBuffer" ? "ring" : "queue"}-rtt-${workload}` as CaseName;
    bench({
      question: "threads: round trip",
      name: `${kind} ×2 (worker↔worker)`,
      workload,
      metric: "latency",
      op: "rtt",
      opsPerIter: n,
      fn: () => transfer(which, n),
    });
  }
}
for (
  const [name, which] of [["RingBuffer ×2", "ring-pingpong"], [
    "Queue ×2",
    "queue-pingpong",
  ]] as const
) {
  bench({
    question: "threads: round trip",
    name: `${name} (worker↔worker)`,
    workload: "int4",
    metric: "latency",
    op: "rtt",
    opsPerIter: roundTrips,
    fn: () => transfer(which, roundTrips),
  });
}

// ringbuf.js's workload. Each iteration first runs ringbuf.js on the same
// count (untimed, `_ringbuf_peer.ts`), so every sample carries a paired speed
// ratio: two busy-spinning workers on 2 shared cores swing 2x between runs,
// and a ratio taken seconds apart mostly measures that swing.
let peer: RingbufPeer | undefined;
try {
  peer = await startRingbufPeer();
} catch {
  peer = undefined; // reported as skipped by bench/peers/ringbuf.bench.ts
}
globalThis.addEventListener("unload", () => peer?.close());

/** Runs the ringbuf.js reference (when it loads), then `subject`; reports the subject's time and the ratio. */
async function pairedWithRingbuf(
  batch: number,
  count: number,
  subject: () => Promise<void>,
): Promise<Record<string, number>> {
  const t0 = performance.now();
  await peer?.transfer(batch, count);
  const t1 = performance.now();
  await subject();
  const t2 = performance.now();
  const timed = { timedNs: (t2 - t1) * 1e6 };
  return peer === undefined ? timed : { ...timed, pairedSpeed: (t1 - t0) / (t2 - t1) };
}

for (const batch of [1, 64]) {
  const count = (batch === 1 ? 1_000_000 : 8_000_000) / (QUICK ? 2 : 1);
  for (
    const [name, workerCase] of [
      ["RingBuffer", batch === 1 ? "ring-batch1" : "ring-batch64"],
      ["RingBuffer try* (busy-poll)", batch === 1 ? "ring-poll1" : "ring-poll64"],
    ] as const
  ) {
    bench({
      question: "threads: ringbuf.js workload",
      name,
      workload: `int32 batch=${batch}`,
      metric: "rate",
      op: "elem",
      opsPerIter: count,
      samples: QUICK ? 3 : 15,
      fn: () => pairedWithRingbuf(batch, count, () => transfer(workerCase, count)),
    });
  }
}
