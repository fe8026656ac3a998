/** FileMemory: the shared memory cases, plus batches and leases. */
import assert from "node:assert/strict";
import { FileMemory, releaseFileLeases, runBatch } from "../shm/file_memory.ts";
import { SabMemory } from "../shm/sab_memory.ts";
import { memoryCases, withMemory } from "./_processes/memory_cases.ts";
import { LEASE_LOG_BYTES, LOG_CELL } from "../shm/_shared_file.ts";

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
    // The lease's first batch is written in place and opens the lease log;
    // the second is only in the log until the lease ends.
    const raw = () => new DataView(Deno.readFileSync(path).buffer);
    assert.equal(raw().getInt32(256, true), 1);
    assert.notEqual(raw().getInt32(LOG_CELL * 4, true), 0, "a lease log is active");
    releaseFileLeases();
    assert.equal(raw().getInt32(256, true), 2, "the lease's end writes the log in place");
    assert.equal(raw().getInt32(LOG_CELL * 4, true), 0, "and retires it");
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

/** Runs `child_source` as a child process that holds a lease and is SIGKILLed once it says "ready". */
async function killLeaseHolder(path: string, script: string): Promise<void> {
  const source = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(
      source,
      `import { FileMemory } from ${
        JSON.stringify(new URL("../shm/file_memory.ts", import.meta.url).href)
      };
const memory = FileMemory.open(${JSON.stringify(path)}, { leaseMs: 60_000 });
${script}
console.log("ready");
Deno.stdin.readSync(new Uint8Array(1)); // blocks in sync code: the lease stays held
`,
    );
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", "--allow-write", source],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = child.stdout.getReader();
    const { value } = await reader.read();
    assert.equal(new TextDecoder().decode(value).trim(), "ready");
    reader.releaseLock();
    child.kill("SIGKILL");
    await child.status;
    await child.stdout.cancel();
    await child.stdin.close().catch(() => {});
  } finally {
    await Deno.remove(source);
  }
}

Deno.test("file: a lease holder SIGKILLed mid-lease loses nothing: its log is replayed", async () => {
  const [memory, path, done] = withMemory("file", 3 * 4096, (p) => FileMemory.open(p));
  try {
    // 200 batches, each changing cells in two blocks (so the ordinary
    // write-back would need the journal): all but the first only in the log.
    await killLeaseHolder(
      path,
      `for (let i = 1; i <= 200; i++) memory.batch(() => { memory.store(0, i); memory.store(1500, -i); });`,
    );
    const raw = new DataView(Deno.readFileSync(path).buffer);
    assert.equal(raw.getInt32(256, true), 1, "in place: only the lease's first batch");
    assert.notEqual(raw.getInt32(LOG_CELL * 4, true), 0, "the log was left active");
    assert.equal(memory.load(0), 200, "the next locker replays the log");
    assert.equal(memory.load(1500), -200);
    assert.equal(new DataView(Deno.readFileSync(path).buffer).getInt32(LOG_CELL * 4, true), 0);
  } finally {
    done();
  }
});

Deno.test("file: a lease log record cut short is not applied (nor anything after it)", async () => {
  const [memory, path, done] = withMemory("file", 64, (p) => FileMemory.open(p));
  try {
    await killLeaseHolder(path, `for (let i = 1; i <= 3; i++) memory.store(0, i);`);
    // Records of stores 2 and 3 follow the journal area; spoil the last one's trailer.
    const bytes = Deno.readFileSync(path);
    const view = new DataView(bytes.buffer);
    const logStart = bytes.length - LEASE_LOG_BYTES;
    const first = 20 + view.getInt32(logStart + 12, true) + 8;
    const secondBody = view.getInt32(logStart + first + 12, true);
    view.setInt32(logStart + first + 20 + secondBody + 4, 12345, true); // trailer's sequence
    Deno.writeFileSync(path, bytes);
    assert.equal(memory.load(0), 2, "store 3's record is not whole: replay stops before it");
  } finally {
    done();
  }
});

Deno.test("file: a lease that overflows its log, and a batch larger than the log, stay exact", () => {
  const bytes = 2 * LEASE_LOG_BYTES;
  const [memory, path, done] = withMemory(
    "file",
    bytes,
    (p) => FileMemory.open(p, { leaseMs: 60_000 }),
  );
  try {
    const cells = bytes / 4;
    // Many small records (the log fills up several times) ...
    for (let i = 0; i < 5_000; i++) memory.batch(() => memory.store((i * 97) % cells, i));
    // ... and one batch whose record cannot fit the log at all.
    memory.batch(() => {
      for (let c = 0; c < cells; c += 3) memory.store(c, -c);
    });
    memory.batch(() => memory.store(1, 77));
    releaseFileLeases();
    const raw = new DataView(Deno.readFileSync(path).buffer);
    assert.equal(raw.getInt32(LOG_CELL * 4, true), 0, "no log left active");
    const expected = new Int32Array(cells);
    for (let i = 0; i < 5_000; i++) expected[(i * 97) % cells] = i;
    for (let c = 0; c < cells; c += 3) expected[c] = -c;
    expected[1] = 77;
    for (let c = 0; c < cells; c++) {
      if (raw.getInt32(256 + c * 4, true) !== expected[c]) {
        assert.fail(
          `cell ${c}: ${raw.getInt32(256 + c * 4, true)} in the file, ${expected[c]} expected`,
        );
      }
    }
  } finally {
    done();
  }
});

Deno.test("file: a lease set while the lock is held is still given up on demand", () => {
  const [memory, path, done] = withMemory("file", 16, (p) => FileMemory.open(p));
  const probe = Deno.openSync(path, { read: true, write: true });
  try {
    memory.batch(() => {
      memory.setLease(60_000); // after this batch took the lock
      memory.add(0, 1);
    });
    assert.equal(probe.tryLockSync(true), false, "kept on lease");
    releaseFileLeases();
    assert.equal(probe.tryLockSync(true), true, "released with the others");
    probe.unlockSync();
    assert.equal(memory.load(0), 1);
  } finally {
    probe.close();
    done();
  }
});

Deno.test("file memory: closing a memory while its async wait is pending leaves no waiter counted in the file", async () => {
  const [memory, path, done] = withMemory("file", 64, (p) => FileMemory.open(p));
  const other = FileMemory.open(path); // another user of the same file in this thread
  try {
    assert.equal(other.notify(0, 1), 0, "nobody waits yet");
    const pending = memory.waitAsync(0, memory.load(0), 5_000); // counted before it returns
    memory.close();
    await assert.rejects(pending, /closed/);
    assert.equal(other.notify(0, 1), 0, "no phantom waiter for other processes to notify");
  } finally {
    other.close();
    done();
  }
});
