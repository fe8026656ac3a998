/** FileMemory: the shared memory cases, plus batches and leases. */
import assert from "node:assert/strict";
import { FileMemory, releaseFileLeases, runBatch } from "../shm/file_memory.ts";
import { SabMemory } from "../shm/sab_memory.ts";
import { memoryCases, withMemory } from "./_processes/memory_cases.ts";

memoryCases("file", (path) => FileMemory.open(path), false);

Deno.test("file: a batch is one indivisible step and spans several 4 KiB blocks", () => {
  const [memory, path, done] = withMemory("file", 3 * 4096, (p) => FileMemory.open(p));
  try {
    const bytes = new Uint8Array(5000).map((_, i) => i & 0xff);
    const result = memory.batch(() => {
      memory.writeBytes(100, bytes);
      memory.store(3000, 7);
      return memory.add(0, 2);
    });
    assert.equal(result, 0);
    // Another open file description sees everything once the batch ended.
    const raw = Deno.readFileSync(path);
    assert.deepEqual(raw.subarray(256 + 100, 256 + 5100), bytes);
    assert.equal(new DataView(raw.buffer).getInt32(256 + 3000 * 4, true), 7);
    assert.equal(new DataView(raw.buffer).getInt32(256, true), 2);
    assert.equal(runBatch(memory, () => memory.load(0)), 2);
    assert.equal(runBatch(new SabMemory(8), () => 5), 5);
    // A wait inside a batch splits it (unlock, wait, lock again) instead of deadlocking.
    assert.equal(memory.batch(() => [memory.wait(0, 2, 5), memory.add(0, 1)][1]), 2);
    assert.equal(memory.load(0), 3);
  } finally {
    done();
  }
});

Deno.test("file: a lease keeps the lock across batches and is released on demand", async () => {
  const [memory, path, done] = withMemory(
    "file",
    16,
    (p) => FileMemory.open(p, { leaseMs: 10_000 }),
  );
  const probe = Deno.openSync(path, { read: true, write: true });
  try {
    memory.add(0, 1);
    memory.add(0, 1);
    // Still held (same process, other file description: flock conflicts).
    assert.equal(probe.tryLockSync(true), false);
    // Written through at the end of each batch even while leased.
    assert.equal(new DataView(Deno.readFileSync(path).buffer).getInt32(256, true), 2);
    releaseFileLeases();
    assert.equal(probe.tryLockSync(true), true);
    probe.unlockSync();
    memory.add(0, 1);
    await Promise.resolve(); // the microtask checkpoint gives the lease up
    assert.equal(probe.tryLockSync(true), true);
    probe.unlockSync();
  } finally {
    probe.close();
    done();
  }
});
