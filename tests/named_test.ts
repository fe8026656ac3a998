/**
 * Named shared objects: name validation, create modes, foreign files,
 * kind/version/parameter checks, backend choice, permissions (0600 files,
 * a child with fewer permissions), unlink.
 */
import assert from "node:assert/strict";
import { Condition } from "../primitives/condition.ts";
import { Mutex } from "../primitives/mutex.ts";
import { SharedValue } from "../primitives/shared_value.ts";
import { Semaphore } from "../primitives/semaphore.ts";
import { Event } from "../primitives/event.ts";
import { pause } from "./_poll.ts";
import { Pipe, PipeEnd } from "../primitives/pipe.ts";
import { LayoutError } from "../primitives/errors.ts";
import type { MemoryAllocator } from "../primitives/_header.ts";
import {
  closeShared,
  defaultBackend,
  openShared,
  sharedInfo,
  sharedPath,
  unlinkShared,
} from "../shm/named.ts";
import { mmapSupported } from "../shm/_libc.ts";
import { uniqueName } from "./_processes/_util.ts";

const BACKENDS = mmapSupported() ? (["mmap", "file"] as const) : (["file"] as const);

function layoutProblem(fn: () => unknown, problem: string, message?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof LayoutError, `expected a LayoutError, got ${error}`);
    assert.equal(error.problem, problem);
    if (message) assert.match(error.message, message);
    return true;
  });
}

Deno.test("invalid names are refused before touching the file system", () => {
  for (const name of ["", "a/b", "..", "../x", ".hidden", "a\\b", "x".repeat(201), "a b", "é"]) {
    assert.throws(() => sharedPath(name), TypeError, `name ${JSON.stringify(name)}`);
    assert.throws(() => openShared(Mutex, name), TypeError);
  }
  assert.throws(() => sharedPath("/tmp/../etc/passwd"), TypeError);
  assert.equal(sharedPath("jobs", "/somewhere/"), "/somewhere/concur-jobs");
  assert.equal(sharedPath("/tmp/explicit-file"), "/tmp/explicit-file");
  assert.throws(() => openShared(Mutex, "ok-name", { create: "sometimes" as never }), TypeError);
});

for (const backend of BACKENDS) {
  Deno.test(`create modes, owner-only permissions and unlink (${backend})`, () => {
    const name = uniqueName("modes");
    const mutex = openShared(Mutex, name, { backend, create: "exclusive" });
    try {
      assert.equal(sharedInfo(mutex).backend, backend);
      assert.equal(Deno.statSync(sharedPath(name)).mode! & 0o777, 0o600);
      assert.throws(
        () => openShared(Mutex, name, { create: "exclusive" }),
        Deno.errors.AlreadyExists,
      );
      const again = openShared(Mutex, name); // if-missing: attaches
      const third = openShared(Mutex, name, { create: "never" });
      assert.ok(again.tryLock());
      assert.ok(mutex.locked() && third.locked());
      third.unlock();
      closeShared(again);
      closeShared(third);
      // Unlinking removes the name; the open object keeps working.
      assert.equal(unlinkShared(name), true);
      assert.equal(unlinkShared(name), false);
      assert.throws(() => openShared(Mutex, name, { create: "never" }), Deno.errors.NotFound);
      assert.ok(mutex.tryLock());
      mutex.unlock();
      // No temporary files are left behind.
      const base = sharedPath(name);
      const dir = base.slice(0, base.lastIndexOf("/"));
      const prefix = base.slice(dir.length + 1);
      const leftovers = [...Deno.readDirSync(dir)].filter((e) => e.name.startsWith(prefix));
      assert.deepEqual(leftovers, []);
    } finally {
      closeShared(mutex);
      unlinkShared(name);
    }
  });

  Deno.test(`attach checks kind and stored parameters (${backend})`, () => {
    const name = uniqueName("params");
    const create = (value: number) => (allocate: MemoryAllocator) =>
      new Semaphore(value, { bounded: true, allocate });
    const semaphore = openShared(Semaphore, name, { backend }, create(3));
    try {
      layoutProblem(() => openShared(Mutex, name), "wrong-kind", /Semaphore/);
      layoutProblem(() => openShared(Semaphore, name, {}, create(5)), "bad-parameters");
      const same = openShared(Semaphore, name, {}, create(3));
      assert.ok(same.tryAcquire());
      closeShared(same);
      const plain = openShared(Semaphore, name, { create: "never" }); // no parameters given: no check
      closeShared(plain);
      const other = backend === "mmap" ? "file" : "mmap";
      if (other === "file" || mmapSupported()) {
        layoutProblem(() => openShared(Semaphore, name, { backend: other }), "wrong-kind");
      }
    } finally {
      closeShared(semaphore);
      unlinkShared(name);
    }
  });

  Deno.test(`version mismatches are refused, never reinterpreted (${backend})`, () => {
    for (const [offset, what] of [[4, "file layout"], [256 + 8, "primitive layout"]] as const) {
      const name = uniqueName("version");
      const mutex = openShared(Mutex, name, { backend });
      closeShared(mutex);
      const path = sharedPath(name);
      try {
        const file = Deno.openSync(path, { read: true, write: true });
        file.seekSync(offset, Deno.SeekMode.Start);
        file.writeSync(new Uint8Array(new Int32Array([99]).buffer));
        file.close();
        layoutProblem(() => openShared(Mutex, name), "wrong-version", /99/);
      } finally {
        unlinkShared(name);
      }
      void what;
    }
  });
}

Deno.test("foreign and truncated files are a LayoutError", () => {
  const path = `${sharedPath(uniqueName("foreign"))}`;
  try {
    Deno.writeTextFileSync(path, "this is not a shared object, just some text ".repeat(20));
    layoutProblem(() => openShared(Mutex, path), "bad-magic", /not a @concur\/shm/);
    Deno.writeFileSync(path, new Uint8Array(0));
    layoutProblem(() => openShared(Mutex, path), "bad-magic");
    // A valid backend header over a region with no primitive in it.
    const name = uniqueName("empty-region");
    const mutex = openShared(Mutex, name);
    closeShared(mutex);
    const bytes = Deno.readFileSync(sharedPath(name));
    bytes.fill(0, 256, 256 + mutex.handle.memory.byteLength); // the region only
    Deno.writeFileSync(path, bytes);
    unlinkShared(name);
    layoutProblem(() => openShared(Mutex, path), "bad-magic");
  } finally {
    Deno.removeSync(path);
  }
});

for (const backend of BACKENDS) {
  Deno.test(`a Pipe by name: the creator's end, and either end on attach (${backend})`, () => {
    const name = uniqueName("pipe");
    const created = openShared(
      PipeEnd<string>,
      name,
      { backend, create: "exclusive" },
      (allocate) => Pipe<string>({ codec: "string", capacity: 256, allocate })[0],
    );
    const same = openShared(PipeEnd<string>, name, { create: "never" });
    const other = openShared(PipeEnd<string>, name, { create: "never", end: 1 });
    try {
      assert.equal(same.handle.end, 0, "by default the end the creator got");
      assert.equal(other.handle.end, 1);
      created.send("ping");
      assert.equal(other.recv({ timeout: 1000 }), "ping");
      other.send("pong");
      assert.equal(same.recv({ timeout: 1000 }), "pong");
      assert.throws(
        () => openShared(Mutex, name, { create: "never", end: 1 }),
        LayoutError,
        "a Pipe is not a Mutex",
      );
      assert.throws(() => openShared(PipeEnd, name, { create: "never", end: 2 as 0 }), TypeError);
    } finally {
      for (const end of [created, same, other]) closeShared(end);
      unlinkShared(name);
    }
  });
}

for (const backend of BACKENDS) {
  Deno.test(`closing an object while an async wait on it is pending: the wait rejects, nothing crashes (${backend})`, async () => {
    const name = uniqueName("close-while-waiting");
    const event = openShared(Event, name, { backend, create: "exclusive" });
    try {
      const pending = event.waitAsync({ timeout: 5_000 });
      await pause(20); // lets the wait start sleeping (it rejects either way)
      closeShared(event);
      await assert.rejects(
        pending,
        (e: unknown) => e instanceof RangeError && /it is closed/.test(e.message),
      );
    } finally {
      unlinkShared(name);
    }
  });
}

Deno.test("a directory under the name is a LayoutError, whatever the create mode", () => {
  const name = uniqueName("a-directory");
  Deno.mkdirSync(sharedPath(name));
  try {
    for (const create of ["if-missing", "never"] as const) {
      layoutProblem(() => openShared(Mutex, name, { create }), "not-shared", /a directory/);
    }
    assert.throws(
      () => openShared(Mutex, name, { create: "exclusive" }),
      Deno.errors.AlreadyExists,
    );
  } finally {
    Deno.removeSync(sharedPath(name));
  }
});

Deno.test("a kind whose constructor needs arguments, opened without construct: a TypeError that says so", () => {
  const name = uniqueName("no-construct");
  try {
    assert.throws(
      () => openShared(SharedValue, name),
      (error: unknown) =>
        error instanceof TypeError && /Pass a construct function/.test(error.message) &&
        error.cause !== undefined,
    );
    assert.throws(
      () => Deno.statSync(sharedPath(name)),
      Deno.errors.NotFound,
      "nothing was created",
    );
  } finally {
    try {
      unlinkShared(name);
    } catch {
      // not created
    }
  }
});

Deno.test("the automatic backend is visible: mmap exactly when FFI is permitted on Linux", () => {
  const name = uniqueName("auto");
  const mutex = openShared(Mutex, name);
  try {
    const expected =
      Deno.build.os === "linux" && Deno.permissions.querySync({ name: "ffi" }).state === "granted"
        ? "mmap"
        : "file";
    assert.equal(defaultBackend(), expected);
    assert.equal(sharedInfo(mutex).backend, expected);
    assert.equal(mutex.handle.memory.backend, expected);
  } finally {
    closeShared(mutex);
    unlinkShared(name);
  }
});

async function runOpenChild(path: string, flags: string[]): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      ...flags,
      new URL("./_processes/open_child.ts", import.meta.url).href,
      path,
    ],
    stdout: "piped",
    stderr: "piped",
  });
  const output = await child.output();
  return new TextDecoder().decode(output.stdout).trim() +
    new TextDecoder().decode(output.stderr).trim();
}

Deno.test({
  name: "a child with fewer permissions gets a clear error",
  timeout: 30_000,
  async fn() {
    const dir = sharedPath("x").slice(0, sharedPath("x").lastIndexOf("/"));
    const names = [uniqueName("perm-mmap"), uniqueName("perm-file")];
    const objects = [];
    try {
      if (mmapSupported()) {
        const mapped = openShared(Mutex, names[0], { backend: "mmap" });
        objects.push(mapped);
        // No --allow-ffi: the mapped object cannot be opened, and the message says why.
        const noFfi = await runOpenChild(sharedPath(names[0]), [
          `--allow-read=${dir}`,
          `--allow-write=${dir}`,
        ]);
        assert.match(noFfi, /LayoutError: .*--allow-ffi/);
        const withFfi = await runOpenChild(sharedPath(names[0]), [
          `--allow-read=${dir}`,
          `--allow-write=${dir}`,
          "--allow-ffi",
        ]);
        assert.equal(withFfi, "opened mmap");
      }
      const filed = openShared(Mutex, names[1], { backend: "file" });
      objects.push(filed);
      // Read-only: the file-backed memory needs to write (and lock) the file.
      const readOnly = await runOpenChild(sharedPath(names[1]), [`--allow-read=${dir}`]);
      assert.match(readOnly, /NotCapable: .*write access/);
      const nothing = await runOpenChild(sharedPath(names[1]), []);
      assert.match(nothing, /NotCapable: .*read access/);
      const enough = await runOpenChild(sharedPath(names[1]), [
        `--allow-read=${dir}`,
        `--allow-write=${dir}`,
      ]);
      assert.equal(enough, "opened file");
    } finally {
      for (const object of objects) closeShared(object);
      for (const name of names) unlinkShared(name);
    }
  },
});

for (const backend of BACKENDS) {
  Deno.test(`composite objects (a Condition and its lock, a locked SharedValue) by name (${backend})`, () => {
    const names = [uniqueName("condition"), uniqueName("locked-value")];
    const condition = openShared(Condition, names[0], { backend });
    const value = openShared(
      SharedValue,
      names[1],
      { backend },
      (allocate) => new SharedValue("float64", 1.5, { allocate }),
    );
    try {
      // Each memory got its own file: the object's own under the name, its lock beside it.
      const path = sharedPath(names[0]);
      assert.ok(Deno.statSync(`${path}.part1`).isFile);
      assert.equal(condition.handle.memory.path, path);
      const again = openShared(Condition, names[0], { create: "never" });
      const valueAgain = openShared(SharedValue, names[1], { create: "never" });
      // The attached condition uses the same lock.
      assert.ok(condition.lock({ timeout: 0 }));
      assert.equal(again.lock({ timeout: 0 }), false);
      condition.unlock();
      assert.ok(again.lock({ timeout: 0 }));
      again.unlock();
      valueAgain.store(2.25);
      assert.equal(value.load(), 2.25);
      assert.ok(valueAgain.getLock() !== undefined);
      closeShared(again);
      closeShared(valueAgain);
      // unlink removes the parts too.
      assert.equal(unlinkShared(names[0]), true);
      assert.throws(() => Deno.statSync(`${path}.part1`), Deno.errors.NotFound);
    } finally {
      closeShared(condition);
      closeShared(value);
      for (const name of names) unlinkShared(name);
    }
  });
}
