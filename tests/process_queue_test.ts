/**
 * Queue and JoinableQueue across real processes, on both process memories:
 * 2 producers and 2 consumers move 200,000 messages with exact checksums,
 * no loss, no duplicate and FIFO order per producer; a JoinableQueue's
 * join() returns once every item was marked done by worker processes.
 */
import assert from "node:assert/strict";
import { JoinableQueue } from "../primitives/joinable_queue.ts";
import { Queue } from "../primitives/queue.ts";
import type { MemoryAllocator } from "../primitives/_header.ts";
import { openShared } from "../shm/named.ts";
import { mmapSupported } from "../shm/_libc.ts";
import { type ProcessHandle, startProcess } from "../workers/process_handle.ts";
import { child, cleanUp, queueBatches, uniqueName } from "./_processes/_util.ts";

const BACKENDS = mmapSupported() ? (["mmap", "file"] as const) : (["file"] as const);
const MESSAGES = 200_000;
/** On the file-backed memory: 50,000 while Queue does not run its steps as batches (slow). */
const FILE_MESSAGES = queueBatches() ? MESSAGES : 50_000;
const PRODUCERS = 2;
const CONSUMERS = 2;

interface Report {
  count: number;
  sum: number;
  fifo: boolean;
}

function expectedSum(producers: number, perProducer: number): number {
  let sum = 0;
  for (let p = 0; p < producers; p++) {
    sum += p * 2 ** 20 * perProducer + (perProducer * (perProducer - 1)) / 2;
  }
  return sum;
}

function report(process: ProcessHandle): Promise<Report> {
  const result = new Response(process.child.stdout).text().then((text) =>
    JSON.parse(text.trim()) as Report
  );
  result.catch(() => {}); // reported where awaited; never an unhandled rejection
  return result;
}

function spawn(args: unknown[], piped = false): ProcessHandle {
  return startProcess(child("queue_children.ts"), { args, stdout: piped ? "piped" : "inherit" });
}

/** The 2 x 2 cases: each memory, and the file-backed one with a lease (batches go to its log). */
const QUEUE_CASES: { backend: "mmap" | "file"; leaseMs?: number }[] = [
  ...BACKENDS.map((backend) => ({ backend })),
  { backend: "file", leaseMs: 1 },
];

for (const { backend, leaseMs } of QUEUE_CASES) {
  const messages = backend === "file" ? FILE_MESSAGES : MESSAGES;
  Deno.test({
    name:
      `Queue: ${PRODUCERS} producer and ${CONSUMERS} consumer processes move ${messages} messages exactly (${backend}${
        leaseMs ? `, lease ${leaseMs} ms` : ""
      })`,
    timeout: 80_000,
    async fn() {
      const name = uniqueName("queue");
      const queue = openShared(
        Queue<number>,
        name,
        { backend, create: "exclusive", leaseMs },
        (allocate: MemoryAllocator) =>
          new Queue<number>(1024, { codec: "number", maxMessageBytes: 8, allocate }),
      );
      const producers: ProcessHandle[] = [];
      const consumers: ProcessHandle[] = [];
      try {
        for (let c = 0; c < CONSUMERS; c++) consumers.push(spawn(["consume", queue], true));
        const reports = consumers.map(report);
        for (let p = 0; p < PRODUCERS; p++) {
          producers.push(spawn(["produce", queue, p, messages / PRODUCERS]));
        }
        for (const producer of producers) {
          assert.equal(await producer.exited({ timeout: 70_000 }), 0);
        }
        queue.close(); // consumers drain what is left, then stop
        const results = await Promise.all(reports);
        for (const consumer of consumers) {
          assert.equal(await consumer.exited({ timeout: 10_000 }), 0);
        }
        assert.equal(results.reduce((n, r) => n + r.count, 0), messages);
        assert.equal(
          results.reduce((n, r) => n + r.sum, 0),
          expectedSum(PRODUCERS, messages / PRODUCERS),
        );
        assert.ok(results.every((r) => r.fifo), "each producer's items arrive in order");
        assert.equal(queue.qsize(), 0);
      } finally {
        await cleanUp([...producers, ...consumers], [queue], [name]);
      }
    },
  });
}

for (const backend of BACKENDS) {
  Deno.test({
    name: `JoinableQueue: join() returns once worker processes marked every item done (${backend})`,
    timeout: 60_000,
    async fn() {
      const name = uniqueName("jqueue");
      const queue = openShared(
        JoinableQueue<number>,
        name,
        { backend, create: "exclusive" },
        (allocate: MemoryAllocator) =>
          new JoinableQueue<number>(64, { codec: "number", maxMessageBytes: 8, allocate }),
      );
      const processes: ProcessHandle[] = [];
      const items = 3 * 2_000;
      try {
        const workers = [spawn(["work", queue], true), spawn(["work", queue], true)];
        processes.push(...workers);
        const reports = workers.map(report);
        for (let p = 0; p < 3; p++) processes.push(spawn(["produce", queue, p, items / 3]));
        for (const producer of processes.slice(2)) {
          assert.equal(await producer.exited({ timeout: 50_000 }), 0);
        }
        assert.ok(await queue.joinAsync({ timeout: 30_000 }), "every item was marked done");
        assert.equal(queue.unfinishedTasks, 0);
        queue.close();
        const results = await Promise.all(reports);
        assert.equal(results.reduce((n, r) => n + r.count, 0), items);
        assert.equal(results.reduce((n, r) => n + r.sum, 0), expectedSum(3, items / 3));
      } finally {
        await cleanUp(processes, [queue], [name]);
      }
    },
  });
}
