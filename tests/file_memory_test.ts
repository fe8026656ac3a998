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
    assert.equal(new DataView(raw.buffer).getInt32(24, true), 0, "no journal left committed");
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

Deno.test("file: a committed journal left by a killed writer is replayed by the next locker", () => {
  const [memory, path] = withMemory("file", 64, (p) => FileMemory.open(p));
  memory.close();
  try {
    // As if a process died after committing a two-entry journal and before
    // (or while) writing the blocks in place.
    const journal = new DataView(new ArrayBuffer(24));
    journal.setUint32(0, 256, true); // region cell 0
    journal.setUint32(4, 4, true);
    journal.setInt32(8, 1234, true);
    journal.setUint32(12, 256 + 8, true); // region cell 2
    journal.setUint32(16, 4, true);
    journal.setInt32(20, 99, true);
    const file = Deno.openSync(path, { read: true, write: true });
    file.seekSync(256 + 64, Deno.SeekMode.Start);
    file.writeSync(new Uint8Array(journal.buffer));
    file.seekSync(24, Deno.SeekMode.Start);
    file.writeSync(new Uint8Array(new Int32Array([24]).buffer)); // the commit mark
    file.close();
    const reopened = FileMemory.open(path);
    assert.equal(reopened.load(0), 1234);
    assert.equal(reopened.load(2), 99);
    reopened.close();
    assert.equal(
      new DataView(Deno.readFileSync(path).buffer).getInt32(24, true),
      0,
      "mark cleared",
    );
  } finally {
    Deno.removeSync(path);
  }
});
