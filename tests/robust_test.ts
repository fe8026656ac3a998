import assert from "node:assert/strict";
import { Event } from "../primitives/event.ts";
import { NotOwnerError } from "../primitives/errors.ts";
import { Mutex } from "../primitives/mutex.ts";
import { RecursiveMutex } from "../primitives/recursive_mutex.ts";
import { WorkerGroup } from "./_helpers.ts";
import { pause } from "./_poll.ts";
import {
  KILLED_EXIT_CODE,
  TERMINATED_EXIT_CODE,
  WorkerProcess,
} from "../workers/worker_process.ts";

const TASKS = new URL("./_tasks/worker_tasks.ts", import.meta.url);
const MUTEX_TASKS = new URL("./_tasks/mutex_tasks.ts", import.meta.url);
const T = { timeout: 20_000 };

/** Starts `fn(lock, held, never, ...)` and resolves once the worker holds the lock. */
async function startHolder(
  fn: string,
  lock: Mutex | RecursiveMutex,
  extra: unknown[] = [],
): Promise<[WorkerProcess, Event]> {
  const held = new Event();
  const never = new Event();
  const p = new WorkerProcess({ module: TASKS, fn, args: [lock, held, ...extra, never] });
  p.start();
  assert.equal(await held.waitAsync({ timeout: 10_000 }), true, "holder took the lock");
  return [p, never];
}

Deno.test({
  name: "robust Mutex: a plain new Worker blocked on a dead managed holder takes the lock over",
  ...T,
  fn: async () => {
    // The plain worker has no liveness table of its own: it adopts the one
    // the main thread's handle carries.
    using group = new WorkerGroup();
    const lock = new Mutex();
    const [p] = await startHolder("holdAndWait", lock);
    const waiter = group.run<[boolean, boolean]>(
      MUTEX_TASKS,
      "lockReportingOwnerDied",
      lock.handle,
      10_000,
    );
    await pause(100); // lets it block first (it passes either way)
    p.terminate();
    assert.deepEqual(await waiter, [true, true], "locked, told the owner died");
    await p.joinAsync();
  },
});

Deno.test({
  name:
    "robust Mutex: a plain worker with a liveness table of its own never takes a live holder's lock",
  ...T,
  fn: async () => {
    // Its own table issued ids too: one it does not see alive may be another
    // table's live owner, so it presumes alive.
    using group = new WorkerGroup();
    const lock = new Mutex();
    const [p, never] = await startHolder("holdAndWait", lock);
    const result = await group.run<[boolean, boolean]>(
      MUTEX_TASKS,
      "startWorkerThenLock",
      lock.handle,
      300,
    );
    assert.deepEqual(result, [false, false], "timed out: the holder lives");
    never.set();
    await p.joinAsync();
  },
});

Deno.test({
  name:
    "robust Mutex: holder terminated inside its critical section (no guard) → next locker gets it, ownerDied",
  ...T,
  fn: async () => {
    const lock = new Mutex();
    const [p] = await startHolder("holdAndWait", lock);
    assert.equal(lock.tryLock(), false, "held by a live worker");
    p.terminate();
    assert.equal(await lock.lockAsync({ timeout: 5000 }), true);
    assert.equal(lock.ownerDied, true);
    assert.equal(lock.heldByCurrentThread(), true);
    await p.joinAsync();
    assert.equal(p.exitCode, TERMINATED_EXIT_CODE);
    lock.unlock();
    assert.equal(lock.ownerDied, true, "sticky until markConsistent");
    assert.throws(() => lock.markConsistent(), NotOwnerError);
    lock.lock();
    lock.markConsistent();
    assert.equal(lock.ownerDied, false);
    lock.unlock();
  },
});

Deno.test({
  name: "robust Mutex: holder with a using guard unwinds on terminate and releases (no ownerDied)",
  ...T,
  fn: async () => {
    for (const fn of ["holdWithGuardAndWait", "holdWithGuardAndWaitAsync"]) {
      const lock = new Mutex();
      const [p] = await startHolder(fn, lock);
      p.terminate();
      assert.equal(await p.joinAsync({ timeout: 5000 }), true);
      assert.equal(p.exitCode, TERMINATED_EXIT_CODE);
      assert.equal(lock.locked(), false, `${fn}: the guard released the lock`);
      assert.equal(lock.tryLock(), true);
      assert.equal(lock.ownerDied, false, fn);
      lock.unlock();
    }
  },
});

Deno.test({
  name: "robust Mutex: threads blocked in lock() when the holder dies are woken and told",
  ...T,
  fn: async () => {
    const lock = new Mutex();
    const [holder] = await startHolder("holdAndWait", lock);
    const out = new Int32Array(new SharedArrayBuffer(4));
    const waiter = new WorkerProcess({ module: TASKS, fn: "lockAndReport", args: [lock, out] });
    waiter.start();
    // Give the waiter time to block in lock() (it cannot take the lock meanwhile).
    assert.equal(await waiter.joinAsync({ timeout: 150 }), false);
    holder.terminate();
    assert.equal(await waiter.joinAsync({ timeout: 5000 }), true);
    assert.equal(waiter.exitCode, 0, String(waiter.error?.stack));
    assert.equal(out[0], 2, "the blocked waiter acquired it and saw ownerDied");
    await holder.joinAsync();
    assert.equal(lock.locked(), false);
  },
});

Deno.test({
  name:
    "robust Mutex: a task that returns without unlocking leaves an ownerDied lock; sync lock() takes it",
  ...T,
  fn: async () => {
    const lock = new Mutex();
    const p = new WorkerProcess({ module: TASKS, fn: "lockAndReturn", args: [lock] });
    p.start();
    assert.equal(await p.joinAsync(), true);
    assert.equal(p.exitCode, 0);
    assert.equal(lock.locked(), true);
    assert.equal(lock.lock({ timeout: 2000 }), true);
    assert.equal(lock.ownerDied, true);
    lock.markConsistent();
    lock.unlock();
  },
});

Deno.test({
  name: "robust Mutex: a holder spinning in a hot loop is stopped by force after the grace period",
  ...T,
  fn: async () => {
    const lock = new Mutex();
    const held = new Event();
    const spun = new Event();
    const p = new WorkerProcess({
      module: TASKS,
      fn: "holdAndSpin",
      args: [lock, held, 1000, spun],
    });
    p.start();
    assert.equal(await held.waitAsync({ timeout: 10_000 }), true);
    p.terminate();
    assert.equal(await lock.lockAsync({ timeout: 5000 }), true, "never hangs");
    assert.equal(lock.ownerDied, true);
    lock.unlock();
    await p.joinAsync();
    assert.equal(p.exitCode, TERMINATED_EXIT_CODE);
    // The engine cannot stop the hot loop: let it finish so no thread outlives the test.
    assert.equal(await spun.waitAsync({ timeout: 5000 }), true);
  },
});

Deno.test({
  name: "robust RecursiveMutex: taken over at depth 1 with ownerDied",
  ...T,
  fn: async () => {
    const lock = new RecursiveMutex();
    const [p] = await startHolder("holdRecursiveAndWait", lock);
    p.terminate();
    assert.equal(await lock.lockAsync({ timeout: 5000 }), true);
    assert.equal(lock.ownerDied, true);
    assert.equal(lock.depth, 1);
    lock.markConsistent();
    lock.unlock();
    assert.equal(lock.locked(), false);
    await p.joinAsync();
  },
});

Deno.test({
  name: "robust Mutex: kill() ends a holder at once (-9); the lock is recovered, never double-held",
  ...T,
  fn: async () => {
    const lock = new Mutex();
    const [p] = await startHolder("holdWithGuardAndWait", lock);
    p.kill();
    assert.equal(p.exitCode, KILLED_EXIT_CODE, "final at once");
    assert.equal(p.isAlive, false);
    assert.equal(await lock.lockAsync({ timeout: 5000 }), true);
    // Whether the killed thread's guard ran first (no ownerDied) or the lock
    // was taken over (ownerDied), the main thread now holds it alone.
    await p.joinAsync();
    await new Promise((resolve) => setTimeout(resolve, 150)); // past any late unwinding
    assert.equal(lock.heldByCurrentThread(), true, "a late guard did not release our lock");
    if (lock.ownerDied) lock.markConsistent();
    lock.unlock();
    p.kill(); // no-op after the end
    assert.equal(p.exitCode, KILLED_EXIT_CODE);
  },
});
