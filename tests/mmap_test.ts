/** MmapMemory: the shared memory cases, plus mapping reuse and close. */
import assert from "node:assert/strict";
import { MmapMemory } from "../shm/mmap_memory.ts";
import { mmapSupported } from "../shm/_libc.ts";
import { memoryCases, withMemory } from "./_processes/memory_cases.ts";

const ignore = !mmapSupported();
memoryCases("mmap", (path) => MmapMemory.open(path), ignore);

Deno.test({
  name: "mmap: closed memories throw instead of touching unmapped pages",
  ignore,
  fn() {
    const [memory, path, done] = withMemory("mmap", 16, (p) => MmapMemory.open(p));
    const other = MmapMemory.open(path); // shares the mapping
    other.close();
    memory.store(0, 1); // the mapping is still there for `memory`
    done();
    assert.ok(memory.closed);
    for (
      const use of [
        () => memory.wait(0, 0, 0),
        () => memory.load(0),
        () => memory.compareExchange(0, 1, 2),
        () => memory.readBytes(0, new Uint8Array(4)),
        () => memory.viewBytes(0, 4),
      ]
    ) {
      // Not a dangling read, and not the engine's "invalid atomic access index".
      assert.throws(use, (e: unknown) => e instanceof RangeError && /it is closed/.test(e.message));
    }
    assert.equal(other.closed, true);
  },
});

Deno.test({
  name: "mmap: a file-backed object is refused",
  ignore,
  fn() {
    const [, path, done] = withMemory("file", 16, () => ({ close() {} }) as never);
    try {
      assert.throws(() => MmapMemory.open(path), /file-backed/);
    } finally {
      done();
    }
  },
});

Deno.test({
  name: "mmap: the waiter count returns to 0 after waits that time out, change, wake or abort",
  ignore,
  async fn() {
    const [memory, path, done] = withMemory("mmap", 16, (p) => MmapMemory.open(p));
    const header = MmapMemory.open(path); // to read the counts: header cells 8.. via a raw view
    try {
      const counts = () => {
        const file = Deno.readFileSync(path);
        return [...new Int32Array(file.buffer, 32, 24)].reduce((a, b) => a + b, 0);
      };
      memory.wait(0, 0, 5); // timed out
      memory.wait(0, 1, 5); // not equal
      await memory.waitAsync(0, 0, 5);
      await memory.waitAsync(0, 1, 5);
      const controller = new AbortController();
      const aborted = memory.waitAsync(0, 0, 10_000, controller.signal);
      setTimeout(() => controller.abort(new Error("stop")), 5);
      await aborted.catch(() => {});
      const woken = memory.waitAsync(1, 0, 10_000);
      setTimeout(() => {
        memory.store(1, 1);
        memory.notify(1);
      }, 5);
      assert.equal(await woken, "ok");
      assert.equal(counts(), 0);
    } finally {
      header.close();
      done();
    }
  },
});
