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
    assert.throws(() => memory.wait(0, 0, 0), RangeError);
    assert.throws(() => memory.load(0), RangeError); // an empty view, not a dangling read
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
