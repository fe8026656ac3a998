import assert from "node:assert/strict";
import { Event } from "../primitives/event.ts";
import { ConcurrencyError, RemoteError } from "../primitives/errors.ts";
import { Mutex } from "../primitives/mutex.ts";
import { RecursiveMutex } from "../primitives/recursive_mutex.ts";
import { isMainThread, TERMINATED_EXIT_CODE, WorkerProcess } from "../workers/worker_process.ts";
import { closeShared, openShared, unlinkShared } from "../shm/named.ts";
import { mmapSupported } from "../shm/_libc.ts";

const TASKS = new URL("./_tasks/worker_tasks.ts", import.meta.url);
/** Loaded here, outside any test: the first mapping opens libc (a resource the sanitizer counts). */
const PROCESS_BACKENDS = mmapSupported() ? (["mmap", "file"] as const) : (["file"] as const);
const T = { timeout: 20_000 };

Deno.test({
  name: "WorkerProcess: PR-1/PR-2 lifecycle, revived arguments, exitCode 0",
  ...T,
  fn: async () => {
    const lock = new Mutex();
    const go = new Event();
    const counter = new Int32Array(new SharedArrayBuffer(4));
    const workers = [0, 1].map((i) =>
      new WorkerProcess({
        module: TASKS,
        fn: "addLockedAfter",
        args: [go, lock, counter, 500],
        name: `w${i}`,
      })
    );
    const w = workers[0];
    assert.equal(w.isAlive, false);
    assert.equal(w.exitCode, null);
    assert.equal(w.id, null);
    assert.equal(w.name, "w0");
    assert.equal(w.daemon, false);
    assert.throws(() => w.join(), ConcurrencyError, "join before start");
    for (const p of workers) p.start();
    assert.equal(w.isAlive, true);
    assert.equal(w.exitCode, null);
    assert.ok(typeof w.id === "number" && w.id !== workers[1].id, "unique ids");
    assert.throws(() => w.start(), ConcurrencyError, "start twice");
    assert.throws(() => (w.daemon = true), ConcurrencyError, "daemon after start");
    go.set();
    for (const p of workers) assert.equal(await p.joinAsync({ timeout: 10_000 }), true);
    assert.equal(counter[0], 1000);
    assert.deepEqual(workers.map((p) => p.exitCode), [0, 0]);
    assert.equal(w.isAlive, false);
    assert.equal(w.error, undefined);
  },
});

Deno.test({
  name: "WorkerProcess: nested primitives revived; default names count up; isMainThread",
  ...T,
  fn: async () => {
    const out = new Int32Array(new SharedArrayBuffer(8));
    const p = new WorkerProcess({
      module: TASKS.href,
      fn: "checkNested",
      args: [{ locks: [new Mutex(), new RecursiveMutex()], out }],
    });
    assert.match(p.name, /^WorkerProcess-\d+$/);
    p.start();
    assert.equal(await p.joinAsync(), true);
    assert.equal(p.exitCode, 0, String(p.error?.stack));
    assert.equal(out[0], 3);
    assert.equal(isMainThread(), true);
  },
});

Deno.test({
  name: "WorkerProcess: PR-4 a throwing task exits 1 with the remote error",
  ...T,
  fn: async () => {
    const p = new WorkerProcess({ module: TASKS, fn: "fail", args: ["bad size"] });
    p.start();
    assert.equal(p.join({ timeout: 10_000 }), true, "sync join works while the loop is blocked");
    await p.joinAsync();
    assert.equal(p.exitCode, 1);
    const error = p.error!;
    assert.ok(error instanceof RemoteError);
    assert.equal(error.remoteName, "RangeError");
    assert.equal(error.message, "bad size");
    assert.match((error.cause as Error).stack!, /fail/);
    const q = new WorkerProcess({ module: TASKS, fn: "failAsync" });
    q.start();
    await q.joinAsync();
    assert.equal(q.exitCode, 1);
    assert.equal(q.error?.remoteName, "TypeError");
    const missing = new WorkerProcess({ module: TASKS, fn: "noSuchExport" });
    missing.start();
    await missing.joinAsync();
    assert.equal(missing.exitCode, 1);
    assert.match(missing.error!.message, /no exported function "noSuchExport"/);
  },
});

Deno.test({
  name: "WorkerProcess: bad options are typed errors",
  fn: () => {
    assert.throws(() => new WorkerProcess({ module: "./relative.ts", fn: "x" }), TypeError);
    const named = new WorkerProcess({ module: TASKS, fn: "x" });
    named.name = "renamed";
    assert.equal(named.name, "renamed");
    assert.throws(() => (named.name = 42 as unknown as string), TypeError);
    assert.throws(
      () => new WorkerProcess({ module: TASKS, fn: 3 as unknown as string }),
      TypeError,
    );
  },
});

Deno.test({
  name: "WorkerProcess: PR-3 join timeouts return false while running; PR-5 terminate → -15",
  ...T,
  fn: async () => {
    const never = new Event();
    const out = new Int32Array(new SharedArrayBuffer(4));
    const p = new WorkerProcess({ module: TASKS, fn: "waitThenMark", args: [never, out] });
    p.start();
    const t0 = performance.now();
    assert.equal(p.join({ timeout: 0 }), false);
    assert.equal(await p.joinAsync({ timeout: 100 }), false);
    assert.ok(performance.now() - t0 >= 99);
    assert.equal(p.isAlive, true);
    p.terminate();
    // A sync join blocks this event loop, so the forced stop (a timer here)
    // cannot run: returning true proves the worker stopped cooperatively.
    assert.equal(p.join({ timeout: 5000 }), true, "a worker blocked in Event.wait stops by itself");
    assert.equal(await p.joinAsync({ timeout: 5000 }), true);
    assert.equal(p.exitCode, TERMINATED_EXIT_CODE);
    assert.equal(out[0], 0, "the wait threw instead of returning");
    p.terminate(); // no-op after the end
    assert.equal(p.exitCode, TERMINATED_EXIT_CODE);
  },
});

Deno.test({
  name: "WorkerProcess: worker id and daemon flag visible inside the worker",
  ...T,
  fn: async () => {
    const out = new Int32Array(new SharedArrayBuffer(8));
    const p = new WorkerProcess({ module: TASKS, fn: "reportInfo", args: [out], daemon: true });
    p.start();
    await p.joinAsync();
    assert.equal(p.exitCode, 0);
    assert.equal(out[0], p.id);
    assert.equal(out[1], 1);
  },
});

Deno.test({
  name: "WorkerProcess: await using terminates and joins",
  ...T,
  fn: async () => {
    const never = new Event();
    const out = new Int32Array(new SharedArrayBuffer(4));
    let p: WorkerProcess;
    {
      await using q = new WorkerProcess({ module: TASKS, fn: "waitThenMark", args: [never, out] });
      q.start();
      p = q;
    }
    assert.equal(p.isAlive, false);
    assert.equal(p.exitCode, TERMINATED_EXIT_CODE);
  },
});

Deno.test({
  name: "WorkerProcess: a worker starts and sync-joins its own worker (shared ids and liveness)",
  ...T,
  fn: async () => {
    const lock = new Mutex();
    const counter = new Int32Array(new SharedArrayBuffer(4));
    const out = new Int32Array(new SharedArrayBuffer(8));
    const parent = new WorkerProcess({
      module: TASKS,
      fn: "spawnChild",
      args: [lock, counter, out],
    });
    parent.start();
    assert.equal(await parent.joinAsync({ timeout: 15_000 }), true);
    assert.equal(parent.exitCode, 0, String(parent.error?.stack));
    assert.equal(counter[0], 100);
    assert.equal(out[1], 0);
    assert.notEqual(out[0], parent.id, "the grandchild has its own program-wide id");
  },
});

Deno.test({
  name: "WorkerProcess: a module that throws at top level ends the worker with exit code 1",
  ...T,
  fn: async () => {
    for (const daemon of [false, true]) {
      const p = new WorkerProcess({
        module: new URL("./_tasks/throwing_module.ts", import.meta.url),
        fn: "never",
        daemon,
      });
      p.start();
      assert.equal(await p.joinAsync({ timeout: 10_000 }), true, `daemon ${daemon}`);
      assert.equal(p.exitCode, 1);
      assert.match(p.error!.message, /top-level failure/);
    }
  },
});

Deno.test({
  name: "WorkerProcess: Deno.exit(n) / process.exit(n) in a task end the worker with exit code n",
  ...T,
  fn: async () => {
    for (const daemon of [false, true]) {
      for (const [fn, code] of [["denoExit", 3], ["processExit", 4], ["denoExit", 0]] as const) {
        const p = new WorkerProcess({ module: TASKS, fn, args: [code], daemon });
        p.start();
        try {
          assert.equal(await p.joinAsync({ timeout: 10_000 }), true, `${fn}(${code}) ${daemon}`);
          assert.equal(p.isAlive, false);
          assert.equal(p.exitCode, code, `${fn}(${code}) daemon ${daemon}`);
          assert.equal(p.error, undefined, "an exit is not an error");
        } finally {
          p.kill();
        }
      }
    }
  },
});

Deno.test({
  name: "WorkerProcess: the remote error keeps the subclass name and own data properties",
  ...T,
  fn: async () => {
    const p = new WorkerProcess({ module: TASKS, fn: "failCoded", args: ["coded"] });
    p.start();
    assert.equal(await p.joinAsync({ timeout: 10_000 }), true);
    assert.equal(p.exitCode, 1);
    const error = p.error as RemoteError & { code?: number };
    assert.equal(error.remoteName, "CodedError");
    assert.equal(error.message, "coded");
    assert.equal(error.code, 7);
  },
});

Deno.test({
  name: "WorkerProcess: arguments that cannot arrive as themselves are TypeErrors at start",
  fn: () => {
    const other = new WorkerProcess({ module: TASKS, fn: "x" });
    const inMap = new WorkerProcess({
      module: TASKS,
      fn: "x",
      args: [{ locks: new Map([["a", new Mutex()]]) }],
    });
    assert.throws(
      () => inMap.start(),
      (e: unknown) =>
        e instanceof TypeError &&
        e.message ===
          `Cannot start worker ${inMap.name}: args[0].locks.get("a") is a Mutex: primitives arrive revived only in arrays and plain objects (put it in one)`,
    );
    const handle = new WorkerProcess({ module: TASKS, fn: "x", args: [{ other }] });
    assert.throws(
      () => handle.start(),
      (e: unknown) =>
        e instanceof TypeError && /args\[0\]\.other is a WorkerProcess/.test(e.message),
    );
    assert.equal(inMap.isAlive, false);
    assert.equal(handle.id, null, "nothing started");
  },
});

Deno.test({
  name: "WorkerProcess: named objects reach a task module that imports only the main entry point",
  ...T,
  fn: async () => {
    // The worker's module (tests/_tasks/worker_tasks.ts) never imports
    // shm/process.ts, which registers the mapped and file-backed memories.
    for (const backend of PROCESS_BACKENDS) {
      const name = `workers-test-${backend}-${Deno.pid}`;
      const lock = openShared(Mutex, name, { backend, create: "exclusive" });
      try {
        const counter = new Int32Array(new SharedArrayBuffer(4));
        const p = new WorkerProcess({ module: TASKS, fn: "addLocked", args: [lock, counter, 100] });
        p.start();
        assert.equal(await p.joinAsync({ timeout: 10_000 }), true);
        assert.equal(p.exitCode, 0, `${backend}: ${p.error?.message}`);
        assert.equal(counter[0], 100);
      } finally {
        closeShared(lock);
        unlinkShared(name);
      }
    }
  },
});
