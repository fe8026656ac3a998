/**
 * IPC between threads (issue 6): the message-passing paths Deno offers
 * between workers, carrying the same messages (`_messages.ts`: 4 bytes,
 * 64 bytes, a small JSON object, 64 KiB), each checked on arrival.
 *
 * - `postMessage`: main → worker (throughput) and main ↔ worker echo (round
 *   trip). This is the baseline of the threads tables.
 * - `MessageChannel`: worker → worker over a channel's ports, and worker ↔
 *   worker round trips.
 * - `ArrayBuffer transfer`: main → worker posting a freshly made buffer in the
 *   transfer list (JSON travels as its UTF-8 bytes), and round trips that
 *   transfer the buffer back.
 *
 * The shared-memory `RingBuffer`/`Queue` rows live in `bench/queues.bench.ts`;
 * the runner puts both files in the same tables.
 *
 * Run: `deno bench -A bench/ipc/threads.bench.ts` (or through `bench/run.ts`).
 *
 * @module
 */

import { bench, QUICK } from "../_harness.ts";
import {
  blockSize,
  checkMessage,
  checkValue,
  counts,
  encodeMessage,
  makeBlock,
  makeValue,
  WORKLOADS,
} from "./_messages.ts";

type Reply = { done?: number; error?: string };

/** A worker whose messages go to whatever listener the current iteration set. */
class Peer {
  readonly worker: Worker;
  listener: (data: unknown) => void = () => {};
  constructor() {
    this.worker = new Worker(new URL("./_thread_worker.ts", import.meta.url), { type: "module" });
    this.worker.onmessage = (event) => this.listener(event.data);
    this.worker.onerror = (event) => {
      event.preventDefault();
      this.listener({ error: `worker error: ${event.message}` });
    };
  }
  /**
   * Resolves with the next `{ done }` report; rejects on `{ error }`, or if
   * nothing is done within 10 s (a lost message must fail, not hang);
   * `onData` sees anything else. `ready` resolves on the `{ ready }` answer.
   */
  report(onData?: (data: unknown) => void): Promise<Reply> & { ready: Promise<void> } {
    let ready!: () => void;
    const listening = new Promise<void>((resolve) => ready = resolve);
    const done = new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no report within 10 s")), 10_000);
      this.listener = (data) => {
        const reply = data as Reply & { ready?: boolean };
        if (reply && typeof reply === "object" && "ready" in reply) ready();
        else if (reply && typeof reply === "object" && "error" in reply) {
          clearTimeout(timer);
          reject(new Error(reply.error));
        } else if (reply && typeof reply === "object" && "done" in reply) {
          clearTimeout(timer);
          resolve(reply);
        } else if (onData) {
          try {
            onData(data);
          } catch (error) {
            reject(error);
          }
        } else reject(new Error(`unexpected message ${String(data)}`));
      };
    });
    return Object.assign(done, { ready: listening });
  }
}

const main = new Peer();
const left = new Peer();
const right = new Peer();
const channel = new MessageChannel();
left.worker.postMessage({ cmd: "port", port: channel.port1 }, [channel.port1]);
right.worker.postMessage({ cmd: "port", port: channel.port2 }, [channel.port2]);
// Every worker is up before the first bench.
for (const peer of [main, left, right]) {
  const ready = peer.report();
  peer.worker.postMessage({ cmd: "sink", workload: "int4", n: 1, via: "self" });
  await ready.ready;
  peer.worker.postMessage(0);
  await ready;
}

globalThis.addEventListener("unload", () => {
  for (const peer of [main, left, right]) peer.worker.terminate();
});

function expectDone(reply: Reply, n: number): void {
  if (reply.done !== n) throw new Error(`receiver reported ${reply.done} messages, expected ${n}`);
}

for (const workload of WORKLOADS) {
  const { messages, roundTrips } = counts(workload, QUICK);
  const isBlock = workload === "b64" || workload === "b64k";
  const scratch = isBlock ? makeBlock(blockSize(workload), 0) : undefined;

  bench({
    question: "threads: throughput",
    name: "postMessage (main→worker)",
    workload,
    metric: "rate",
    op: "msg",
    opsPerIter: messages,
    baseline: true,
    async fn(): Promise<void> {
      const done = main.report();
      main.worker.postMessage({ cmd: "sink", workload, n: messages, via: "self" });
      await done.ready;
      for (let i = 0; i < messages; i++) main.worker.postMessage(makeValue(workload, i, scratch));
      expectDone(await done, messages);
    },
  });

  bench({
    question: "threads: throughput",
    name: "MessageChannel (worker→worker)",
    workload,
    metric: "rate",
    op: "msg",
    opsPerIter: messages,
    async fn(): Promise<void> {
      const done = right.report();
      right.worker.postMessage({ cmd: "sink", workload, n: messages, via: "port" });
      await done.ready;
      left.worker.postMessage({ cmd: "send", workload, n: messages });
      expectDone(await done, messages);
    },
  });

  bench({
    question: "threads: throughput",
    name: "ArrayBuffer transfer (main→worker)",
    workload,
    metric: "rate",
    op: "msg",
    opsPerIter: messages,
    async fn(): Promise<void> {
      const done = main.report();
      main.worker.postMessage({
        cmd: "sink",
        workload,
        n: messages,
        via: "self",
        transfer: true,
      });
      await done.ready;
      for (let i = 0; i < messages; i++) {
        const bytes = encodeMessage(workload, i); // fresh: a transferred buffer is gone
        main.worker.postMessage(bytes, [bytes.buffer]);
      }
      expectDone(await done, messages);
    },
  });

  bench({
    question: "threads: round trip",
    name: "postMessage (main↔worker)",
    workload,
    metric: "latency",
    op: "rtt",
    opsPerIter: roundTrips,
    baseline: true,
    async fn(): Promise<void> {
      let i = 0;
      const done = main.report((data) => {
        checkValue(workload, data, i);
        if (++i < roundTrips) main.worker.postMessage(makeValue(workload, i));
      });
      main.worker.postMessage({ cmd: "echo", workload, n: roundTrips, via: "self" });
      await done.ready;
      main.worker.postMessage(makeValue(workload, 0));
      expectDone(await done, roundTrips);
      if (i !== roundTrips) throw new Error(`${i} echoes came back, expected ${roundTrips}`);
    },
  });

  bench({
    question: "threads: round trip",
    name: "MessageChannel (worker↔worker)",
    workload,
    metric: "latency",
    op: "rtt",
    opsPerIter: roundTrips,
    async fn(): Promise<void> {
      const echoed = right.report();
      const done = left.report();
      right.worker.postMessage({ cmd: "echo", workload, n: roundTrips, via: "port" });
      await echoed.ready;
      left.worker.postMessage({ cmd: "ping", workload, n: roundTrips });
      expectDone(await done, roundTrips);
      expectDone(await echoed, roundTrips);
    },
  });

  bench({
    question: "threads: round trip",
    name: "ArrayBuffer transfer (main↔worker)",
    workload,
    metric: "latency",
    op: "rtt",
    opsPerIter: roundTrips,
    async fn(): Promise<void> {
      let i = 0;
      const send = (): void => {
        const bytes = encodeMessage(workload, i);
        main.worker.postMessage(bytes, [bytes.buffer]);
      };
      const done = main.report((data) => {
        checkMessage(workload, data as Uint8Array, i);
        if (++i < roundTrips) send();
      });
      main.worker.postMessage({
        cmd: "echo",
        workload,
        n: roundTrips,
        via: "self",
        transfer: true,
      });
      await done.ready;
      send();
      expectDone(await done, roundTrips);
      if (i !== roundTrips) throw new Error(`${i} echoes came back, expected ${roundTrips}`);
    },
  });
}
