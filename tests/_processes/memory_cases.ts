/**
 * The cases run against both process memories (mmap_test.ts and
 * file_memory_test.ts): cell semantics, bytes, waits with timeouts,
 * async waits with abort, and wake-ups and atomic adds across processes.
 */
import assert from "node:assert/strict";
import type { Memory } from "../../shm/memory.ts";
import { createSharedFile, type FileMode } from "../../shm/_shared_file.ts";
import { sharedPath } from "../../shm/named.ts";
import { uniqueName } from "./_util.ts";

/** A fresh shared file of `bytes` for `mode`, opened by `open`; removed by the returned cleanup. */
export function withMemory<M extends Memory & { close(): void }>(
  mode: FileMode,
  bytes: number,
  open: (path: string) => M,
): [M, string, () => void] {
  const path = sharedPath(uniqueName(`mem-${mode}`));
  createSharedFile(path, bytes, mode);
  const memory = open(path);
  return [memory, path, () => {
    memory.close();
    Deno.removeSync(path);
  }];
}

/**
 * `loadPlain`/`storePlain` and `readCells`/`writeCells` on a memory of 16
 * cells: the same cells as the atomic operations and the byte copies, and a
 * RangeError outside the memory (every backend, the SAB one included).
 */
export function checkPlainAndCellCopies(memory: Memory): void {
  memory.storePlain(1, -7);
  assert.equal(memory.loadPlain(1), -7);
  assert.equal(memory.load(1), -7);
  memory.store(2, 0x12345678);
  assert.equal(memory.loadPlain(2), 0x12345678);
  assert.throws(() => memory.loadPlain(16), RangeError);
  assert.throws(() => memory.storePlain(-1, 0), RangeError);
  // Short (loop) and long copies, at even and odd cells, against the byte view.
  for (const at of [3, 4]) {
    const source = Int32Array.from({ length: 12 }, (_, i) => (i * 0x01010101) ^ -(at + i));
    memory.writeCells(at, source);
    const back = new Int32Array(12);
    memory.readCells(at, back);
    assert.deepEqual([...back], [...source]);
    const bytes = new Uint8Array(48);
    memory.readBytes(at * 4, bytes);
    assert.deepEqual([...new Int32Array(bytes.buffer)], [...source]);
    assert.equal(memory.load(at + 11), source[11]);
  }
  const part = new Int32Array(8).subarray(1, 4); // a view at an odd cell of its own buffer
  memory.readCells(5, part);
  assert.equal(part[0], memory.load(5));
  assert.throws(() => memory.writeCells(15, new Int32Array(2)), RangeError);
  assert.throws(() => memory.readCells(-1, new Int32Array(1)), RangeError);
}

/** Registers the shared cases for one backend. */
export function memoryCases<M extends Memory & { close(): void }>(
  mode: FileMode,
  open: (path: string) => M,
  ignore: boolean,
): void {
  Deno.test({
    name: `${mode}: cell operations, wrapping, bounds and bytes`,
    ignore,
    fn() {
      const [memory, path, done] = withMemory(mode, 64, open);
      try {
        assert.equal(memory.backend, mode);
        assert.equal(memory.byteLength, 64);
        assert.deepEqual(memory.handle(), { backend: mode, path, byteOffset: 256, byteLength: 64 });
        memory.store(0, 0x7fffffff);
        assert.equal(memory.add(0, 1), 0x7fffffff);
        assert.equal(memory.load(0), -0x80000000);
        assert.equal(memory.exchange(0, 5), -0x80000000);
        assert.equal(memory.compareExchange(0, 4, 9), 5);
        assert.equal(memory.compareExchange(0, 5, 9), 5);
        assert.equal(memory.load(0), 9);
        assert.throws(() => memory.load(16), RangeError);
        memory.writeBytes(10, new Uint8Array([1, 2, 3]));
        const out = new Uint8Array(5);
        memory.readBytes(9, out);
        assert.deepEqual([...out], [0, 1, 2, 3, 0]);
        assert.deepEqual([...memory.viewBytes(10, 3)], [1, 2, 3]);
        // A second memory on the same file sees the same cells.
        const other = open(path);
        assert.equal(other.load(0), 9);
        other.close();
        assert.equal(memory.load(0), 9);
      } finally {
        done();
      }
    },
  });

  Deno.test({
    name: `${mode}: plain cell accesses and whole-cell copies`,
    ignore,
    fn() {
      const [memory, , done] = withMemory(mode, 64, open);
      try {
        checkPlainAndCellCopies(memory);
      } finally {
        done();
      }
    },
  });

  Deno.test({
    name: `${mode}: wait returns not-equal, times out, and notify without waiters is 0`,
    ignore,
    fn() {
      const [memory, , done] = withMemory(mode, 16, open);
      try {
        assert.equal(memory.wait(0, 1, 10), "not-equal");
        const start = performance.now();
        assert.equal(memory.wait(0, 0, 30), "timed-out");
        assert.ok(performance.now() - start >= 29);
        assert.equal(memory.wait(0, 0, 0), "timed-out");
        assert.equal(memory.notify(0), 0);
      } finally {
        done();
      }
    },
  });

  Deno.test({
    name: `${mode}: waitAsync times out, rejects on abort, and never leaks`,
    ignore,
    async fn() {
      const [memory, , done] = withMemory(mode, 16, open);
      try {
        assert.equal(await memory.waitAsync(0, 1, 10), "not-equal");
        assert.equal(await memory.waitAsync(0, 0, 20), "timed-out");
        const controller = new AbortController();
        const pending = memory.waitAsync(0, 0, Infinity, controller.signal);
        setTimeout(() => controller.abort(new Error("stop")), 20);
        await assert.rejects(pending, /stop/);
        await assert.rejects(memory.waitAsync(0, 0, 10, controller.signal), /stop/);
      } finally {
        done();
      }
    },
  });

  Deno.test({
    name: `${mode}: waitAsync is woken by a notify from the same process`,
    ignore,
    async fn() {
      const [memory, , done] = withMemory(mode, 16, open);
      try {
        const pending = memory.waitAsync(0, 0, 5_000);
        setTimeout(() => {
          memory.store(0, 1);
          memory.notify(0);
        }, 10);
        assert.equal(await pending, "ok");
      } finally {
        done();
      }
    },
  });

  Deno.test({
    name: `${mode}: a process wakes a waiter of another, and atomic adds add up`,
    ignore,
    timeout: 30_000,
    async fn() {
      const [memory, path, done] = withMemory(mode, 16, open);
      const children: Deno.ChildProcess[] = [];
      const dir = path.slice(0, path.lastIndexOf("/"));
      const spawn = (action: string) =>
        new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "--no-prompt",
            `--allow-read=${dir}`,
            `--allow-write=${dir}`,
            ...(mode === "mmap" ? ["--allow-ffi"] : []),
            new URL("./memory_child.ts", import.meta.url).href,
            mode,
            path,
            action,
          ],
        }).spawn();
      try {
        children.push(spawn("wake"));
        memory.store(1, 1);
        memory.notify(1);
        // Blocks this thread until the child's notify (bounded by the timeout).
        let result;
        do result = memory.wait(0, 0, 20_000); while (result === "ok" && memory.load(0) === 0);
        assert.equal(memory.load(0), 42);
        children.push(spawn("add"), spawn("add"));
        for (let i = 0; i < 10_000; i++) memory.add(2, 1);
        for (const child of children) assert.equal((await child.status).code, 0);
        assert.equal(memory.load(2), 30_000);
      } finally {
        for (const child of children) {
          try {
            child.kill("SIGKILL");
          } catch { /* exited */ }
          await child.status;
        }
        done();
      }
    },
  });
}
