/**
 * Process handles: arguments (JSON values and named primitives), exit
 * codes, join with a timeout, terminate/kill, pid, explicit permissions,
 * and primitives that cannot leave the process.
 */
import assert from "node:assert/strict";
import { Event } from "../primitives/event.ts";
import { Mutex } from "../primitives/mutex.ts";
import { openShared } from "../shm/named.ts";
import { WorkerProcess } from "../workers/worker_process.ts";
import { type ProcessHandle, startProcess } from "../workers/process_handle.ts";
import { child, cleanUp, uniqueName } from "./_processes/_util.ts";

const CHILD = child("handle_child.ts");
const quiet = { stdout: "null", stderr: "null" } as const;

Deno.test({
  name: "process handle: arguments arrive, exit codes and pid are reported",
  timeout: 30_000,
  async fn() {
    const processes: ProcessHandle[] = [];
    try {
      const echo = startProcess(CHILD, {
        args: ["echo", { a: [1, "two", null] }, 3.5],
        stdout: "piped",
      });
      processes.push(echo);
      assert.ok(echo.pid > 0);
      assert.equal(echo.isAlive, true);
      assert.equal(echo.exitCode, null);
      const output = await new Response(echo.child.stdout).text();
      assert.equal(await echo.exited({ timeout: 20_000 }), 0);
      assert.deepEqual(JSON.parse(output), [{ a: [1, "two", null] }, 3.5]);
      assert.equal(echo.isAlive, false);

      const exit = startProcess(CHILD, { args: ["exit", 42], ...quiet });
      const failing = startProcess(CHILD, { args: ["throw"], ...quiet });
      processes.push(exit, failing);
      assert.equal(await exit.exited({ timeout: 20_000 }), 42);
      assert.equal(await failing.exited({ timeout: 20_000 }), 1);
    } finally {
      await cleanUp(processes);
    }
  },
});

Deno.test({
  name: "process handle: join times out, terminate and kill end the process",
  timeout: 30_000,
  async fn() {
    const name = uniqueName("handle-started");
    const started = openShared(Event, name);
    const processes: ProcessHandle[] = [];
    try {
      for (const signal of ["SIGTERM", "SIGKILL"] as const) {
        started.clear();
        const sleeper = startProcess(CHILD, { args: ["sleep", started], ...quiet });
        processes.push(sleeper);
        assert.ok(await started.waitAsync({ timeout: 20_000 }));
        assert.equal(await sleeper.join({ timeout: 50 }), false);
        const stop = new AbortController();
        const waiting = sleeper.join({ signal: stop.signal });
        stop.abort(new Error("stop waiting"));
        await assert.rejects(waiting, /stop waiting/);
        await assert.rejects(sleeper.exited({ signal: AbortSignal.abort(new Error("no")) }), /no/);
        assert.equal(sleeper.isAlive, true, "a wait's end is not the process's");
        if (signal === "SIGTERM") sleeper.terminate();
        else sleeper.kill();
        assert.equal(await sleeper.join({ timeout: 20_000 }), true);
        assert.equal(sleeper.signal, signal);
        assert.equal(sleeper.exitCode, signal === "SIGTERM" ? 143 : 137);
        sleeper.kill(); // a no-op once it ended
      }
    } finally {
      await cleanUp(processes, [started], [name]);
    }
  },
});

Deno.test({
  name: "process handle: permissions are explicit",
  timeout: 30_000,
  async fn() {
    const target = await Deno.makeTempFile();
    const processes: ProcessHandle[] = [];
    try {
      const denied = startProcess(CHILD, { args: ["write", target], ...quiet });
      const allowed = startProcess(CHILD, {
        args: ["write", target],
        permissions: { write: [target], read: [target] },
        ...quiet,
      });
      processes.push(denied, allowed);
      assert.equal(await denied.exited({ timeout: 20_000 }), 7);
      assert.equal(await allowed.exited({ timeout: 20_000 }), 0);
    } finally {
      await cleanUp(processes);
      await Deno.remove(target);
    }
  },
});

Deno.test("process handle: a primitive in this process's memory cannot be passed", () => {
  assert.throws(
    () => startProcess(CHILD, { args: ["echo", { lock: new Mutex() }] }),
    (error: unknown) => error instanceof TypeError && /openShared/.test(error.message),
  );
  const worker = new WorkerProcess({ module: CHILD, fn: "x" });
  assert.throws(
    () => startProcess(CHILD, { args: ["echo", [worker]] }),
    (error: unknown) =>
      error instanceof TypeError &&
      /args\[1\]\[0\] is a WorkerProcess, which cannot be sent/.test(error.message),
  );
});

Deno.test({
  name: "process handle: a join timeout of 2^31 ms or more does not expire early",
  timeout: 30_000,
  async fn() {
    const name = uniqueName("handle-long");
    const started = openShared(Event, name);
    const processes: ProcessHandle[] = [];
    try {
      const sleeper = startProcess(CHILD, { args: ["sleep", started], ...quiet });
      processes.push(sleeper);
      assert.ok(await started.waitAsync({ timeout: 20_000 }));
      // Timers given 2^31 ms or more fire after 1 ms: these joins must not.
      const joins = [2 ** 31, 2 ** 40].map((timeout) => sleeper.join({ timeout }));
      let timer: ReturnType<typeof setTimeout> | undefined;
      const soon = new Promise((resolve) => (timer = setTimeout(resolve, 300, "pending")));
      assert.deepEqual(await Promise.all(joins.map((join) => Promise.race([join, soon]))), [
        "pending",
        "pending",
      ]);
      clearTimeout(timer);
      sleeper.kill();
      assert.deepEqual(await Promise.all(joins), [true, true], "they end with the process");
    } finally {
      await cleanUp(processes, [started], [name]);
    }
  },
});
