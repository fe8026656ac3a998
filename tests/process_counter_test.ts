/**
 * 4 processes × 20,000 increments of a plain counter under a named Mutex,
 * on both process memories: the count must be exact.
 */
import assert from "node:assert/strict";
import { Mutex } from "../primitives/mutex.ts";
import { SharedValue } from "../primitives/shared_value.ts";
import { openShared, sharedInfo } from "../shm/named.ts";
import { mmapSupported } from "../shm/_libc.ts";
import { type ProcessHandle, startProcess } from "../workers/process_handle.ts";
import { child, cleanUp, uniqueName } from "./_processes/_util.ts";

const PROCESSES = 4;
const ROUNDS = 20_000;

const CASES: { backend: "mmap" | "file"; leaseMs?: number }[] = [
  { backend: "mmap" },
  { backend: "file" },
  // Leases on both files: batches go to the lease logs, and a process never
  // waits for one file's lock while keeping the other's.
  { backend: "file", leaseMs: 2 },
];

for (const { backend, leaseMs } of CASES) {
  Deno.test({
    name: `${PROCESSES} processes x ${ROUNDS} locked increments are exact (${backend}${
      leaseMs ? `, lease ${leaseMs} ms` : ""
    })`,
    ignore: backend === "mmap" && !mmapSupported(),
    timeout: 60_000,
    async fn() {
      const names = [uniqueName("mutex"), uniqueName("counter")];
      const mutex = openShared(Mutex, names[0], { backend, create: "exclusive", leaseMs });
      const counter = openShared(
        SharedValue,
        names[1],
        { backend, create: "exclusive", leaseMs },
        (allocate) => new SharedValue("int32", 0, { lock: false, allocate }),
      );
      assert.equal(sharedInfo(mutex).backend, backend);
      const processes: ProcessHandle[] = [];
      try {
        for (let i = 0; i < PROCESSES; i++) {
          processes.push(
            startProcess(child("counter_child.ts"), { args: [mutex, counter, ROUNDS] }),
          );
        }
        for (const process of processes) {
          assert.equal(await process.exited({ timeout: 50_000 }), 0);
        }
        assert.equal(counter.load(), PROCESSES * ROUNDS);
        assert.equal(mutex.locked(), false);
      } finally {
        await cleanUp(processes, [mutex, counter], names);
      }
    },
  });
}
