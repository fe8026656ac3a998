/**
 * The other primitives across real processes, opened by name: a Semaphore
 * bounds concurrency, a Barrier keeps rounds in step, a RingBuffer carries
 * numbers in order — on both process memories.
 */
import assert from "node:assert/strict";
import { Barrier } from "../primitives/barrier.ts";
import { RingBuffer } from "../primitives/ring_buffer.ts";
import { Semaphore } from "../primitives/semaphore.ts";
import { SharedArray, SharedValue } from "../primitives/shared_value.ts";
import type { MemoryAllocator } from "../primitives/_header.ts";
import { openShared } from "../shm/named.ts";
import { mmapSupported } from "../shm/_libc.ts";
import { type ProcessHandle, startProcess } from "../workers/process_handle.ts";
import { child, cleanUp, uniqueName } from "./_processes/_util.ts";

const BACKENDS = mmapSupported() ? (["mmap", "file"] as const) : (["file"] as const);
const CHILD = child("primitives_child.ts");

for (const backend of BACKENDS) {
  Deno.test({
    name: `Semaphore(2), Barrier(3) and RingBuffer across processes (${backend})`,
    timeout: 60_000,
    async fn() {
      const names = ["sem", "inside", "peak", "barrier", "slots", "ring"].map(uniqueName);
      const options = { backend, create: "exclusive" } as const;
      const counter = (allocate: MemoryAllocator) =>
        new SharedValue("int32", 0, { lock: false, allocate });
      const semaphore = openShared(
        Semaphore,
        names[0],
        options,
        (allocate) => new Semaphore(2, { bounded: true, allocate }),
      );
      const inside = openShared(SharedValue, names[1], options, counter);
      const peak = openShared(SharedValue, names[2], options, counter);
      const barrier = openShared(
        Barrier,
        names[3],
        options,
        (allocate) => new Barrier(3, { allocate }),
      );
      const slots = openShared(
        SharedArray,
        names[4],
        options,
        (allocate) => new SharedArray("int32", 3, { lock: false, allocate }),
      );
      const ring = openShared(
        RingBuffer,
        names[5],
        options,
        (allocate) => new RingBuffer(256, { allocate }),
      );
      const processes: ProcessHandle[] = [];
      try {
        for (let p = 0; p < 4; p++) {
          processes.push(
            startProcess(CHILD, { args: ["semaphore", semaphore, inside, peak, 300] }),
          );
        }
        for (let p = 0; p < 3; p++) {
          processes.push(startProcess(CHILD, { args: ["barrier", barrier, slots, p, 30] }));
        }
        const reader = startProcess(CHILD, { args: ["ring", ring, 5_000] });
        processes.push(reader);
        for (let i = 0; i < 5_000; i++) {
          while (!ring.tryPushNumber(i)) await new Promise((resolve) => setTimeout(resolve, 1));
        }
        for (const process of processes) assert.equal(await process.exited({ timeout: 50_000 }), 0);
        assert.equal(inside.load(), 0);
        assert.ok(peak.load() >= 1 && peak.load() <= 2, `peak ${peak.load()}`);
        assert.equal(semaphore.value, 2);
        assert.equal(barrier.broken, false);
      } finally {
        await cleanUp(processes, [semaphore, inside, peak, barrier, slots, ring], names);
      }
    },
  });
}
