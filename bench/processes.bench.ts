/**
 * Cross-process `Queue`s (issue 5 item 7): a named `Queue` between this
 * process and a child `deno run` process, on the memory-mapped memory (FFI
 * mmap + futex) and on the file-backed memory (flock + pread/pwrite; by
 * default, and with a 1 ms lease: the lock kept across a burst of batches,
 * each batch one record appended to the lease log), carrying the same
 * messages as the byte-stream paths of
 * `bench/ipc/processes.bench.ts` (stdin/stdout pipe, Unix socket, TCP),
 * which this suite imports so that all of them run side by side in one
 * process, in the same tables:
 *
 * - throughput: this process puts `n` messages, the child gets and checks
 *   each, then acknowledges (the iteration ends at the acknowledgement);
 * - throughput ×256: the same with `putMany`/`getMany` of up to 256
 *   messages (one lock and one write-back per call on the file-backed
 *   memory, when `Queue` runs them as one batch), beside the batched rows
 *   of the byte streams;
 * - round trip: this process puts one message and gets its echo, `n` times.
 *
 * The runner's baseline for these tables is Python's `multiprocessing.Queue`
 * (`bench/python/mp_bench.py`, about 314k small messages/s here).
 *
 * Run: `deno bench -A bench/processes.bench.ts` (or through `bench/run.ts`).
 *
 * @module
 */

import "./ipc/processes.bench.ts";
import { bench, QUICK, skipped } from "./_harness.ts";
import {
  blockSize,
  counts,
  encodeMessage,
  makeBlock,
  type Workload,
  WORKLOADS,
} from "./ipc/_messages.ts";
import { Queue } from "../primitives/queue.ts";
import type { MemoryAllocator } from "../primitives/_header.ts";
import { closeShared, openShared, unlinkShared } from "../shm/named.ts";
import { mmapSupported } from "../shm/_libc.ts";
import { type ProcessHandle, startProcess } from "../workers/process_handle.ts";

interface Command {
  mode: "sink" | "echo" | "exit";
  workload?: Workload;
  count?: number;
  big?: boolean;
  many?: number;
}

interface Channel {
  name: string;
  control: Queue<Command>;
  request: Queue<Uint8Array>;
  reply: Queue<Uint8Array>;
  bigRequest: Queue<Uint8Array>;
  bigReply: Queue<Uint8Array>;
  child: ProcessHandle;
  names: string[];
}

const CHILD = new URL("./_processes/queue_child.ts", import.meta.url);
const decoder = new TextDecoder();

function openChannel(label: string, backend: "mmap" | "file", leaseMs?: number): Channel {
  const tag = `bench-${Deno.pid}-${backend}${leaseMs ? `-lease${leaseMs}` : ""}`;
  const names = ["control", "request", "reply", "big-request", "big-reply"].map((n) =>
    `${tag}-${n}`
  );
  for (const name of names) unlinkShared(name);
  const open = <T>(name: string, capacity: number, bytes: number, codec: "json" | "bytes") =>
    openShared(
      Queue<T>,
      name,
      { backend, create: "exclusive", leaseMs },
      (allocate: MemoryAllocator) =>
        new Queue<T>(capacity, { codec, maxMessageBytes: bytes, allocate }),
    );
  const control = open<Command>(names[0], 4, 256, "json");
  const request = open<Uint8Array>(names[1], 1024, 64, "bytes");
  const reply = open<Uint8Array>(names[2], 1024, 512, "bytes");
  const bigRequest = open<Uint8Array>(names[3], 8, 65536, "bytes");
  const bigReply = open<Uint8Array>(names[4], 8, 65536, "bytes");
  const child = startProcess(CHILD, {
    args: [control, request, reply, bigRequest, bigReply],
    permissions: {
      read: ["/tmp", new URL("../", import.meta.url).pathname],
      write: ["/tmp"],
      ffi: backend === "mmap",
    },
  });
  return { name: label, control, request, reply, bigRequest, bigReply, child, names };
}

const channels: Channel[] = [];
if (mmapSupported()) channels.push(openChannel("Queue (mmap)", "mmap"));
else skipped("processes: throughput", "Queue (mmap)", "needs Linux and --allow-ffi");
channels.push(openChannel("Queue (file)", "file"));
channels.push(openChannel("Queue (file, lease 1 ms)", "file", 1));

globalThis.addEventListener("unload", () => {
  for (const channel of channels) {
    channel.child.kill();
    for (
      const queue of [
        channel.control,
        channel.request,
        channel.reply,
        channel.bigRequest,
        channel.bigReply,
      ]
    ) {
      closeShared(queue);
    }
    for (const name of channel.names) unlinkShared(name);
  }
});

function expectAck(channel: Channel, queue: Queue<Uint8Array>): void {
  const ack = decoder.decode(queue.get({ timeout: 60_000 }));
  if (ack !== "") throw new Error(`${channel.name}: child reports ${ack}`);
}

for (const workload of WORKLOADS) {
  const { messages, roundTrips } = counts(workload, QUICK);
  const big = workload === "b64k";
  const scratch = workload === "json" ? undefined : makeBlock(blockSize(workload), 0);
  for (const channel of channels) {
    const request = big ? channel.bigRequest : channel.request;
    const reply = big ? channel.bigReply : channel.reply;
    // Iterations of comparable duration (a few hundred ms at full size):
    // the mapped memory moves many more messages per second than the
    // file-backed one, which with a lease moves more than without.
    const scale = channel.name.includes("lease") ? 4 : channel.name.includes("file") ? 1 : 10;
    const n = Math.max(1, Math.round(messages * scale));
    const rtts = Math.max(1, Math.round(roundTrips * scale));
    bench({
      question: "processes: throughput",
      name: channel.name,
      workload,
      metric: "rate",
      op: "msg",
      opsPerIter: n,
      fn(): void {
        channel.control.put({ mode: "sink", workload, count: n, big });
        for (let i = 0; i < n; i++) request.put(encodeMessage(workload, i, scratch));
        expectAck(channel, reply);
      },
    });
    if (!big) {
      const blocks = Array.from({ length: 256 }, () => makeBlock(blockSize(workload), 0));
      const chunk: Uint8Array[] = [];
      const manyMessages = Math.max(256, Math.round(messages * (scale === 10 ? 10 : 1)));
      bench({
        question: "processes: throughput",
        name: `${channel.name} putMany/getMany x256`,
        workload,
        metric: "rate",
        op: "msg",
        opsPerIter: manyMessages,
        fn(): void {
          channel.control.put({ mode: "sink", workload, count: manyMessages, big, many: 256 });
          for (let i = 0; i < manyMessages; i += 256) {
            const size = Math.min(256, manyMessages - i);
            chunk.length = size;
            for (let k = 0; k < size; k++) {
              chunk[k] = encodeMessage(
                workload,
                i + k,
                workload === "json" ? undefined : blocks[k],
              );
            }
            request.putMany(chunk);
          }
          expectAck(channel, reply);
        },
      });
    }
    bench({
      question: "processes: round trip",
      name: channel.name,
      workload,
      metric: "latency",
      op: "rtt",
      opsPerIter: rtts,
      fn(): void {
        channel.control.put({ mode: "echo", workload, count: rtts, big });
        for (let i = 0; i < rtts; i++) {
          request.put(encodeMessage(workload, i, scratch));
          reply.get({ timeout: 60_000 });
        }
        expectAck(channel, reply);
      },
    });
  }
}
