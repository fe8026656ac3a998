/**
 * Crash safety across processes: a process SIGKILLed while holding a named
 * Mutex is detected as dead (its owner file is no longer locked), and the
 * next locker — in this process, or one blocked in lock() in another — gets
 * the lock and is told that the previous owner died.
 */
import assert from "node:assert/strict";
import { Condition } from "../primitives/condition.ts";
import { Event } from "../primitives/event.ts";
import { Mutex } from "../primitives/mutex.ts";
import { ownerOf } from "../primitives/_futex_lock.ts";
import { HEADER_CELLS } from "../primitives/_header.ts";
import { openShared, sharedPath } from "../shm/named.ts";
import { mmapSupported } from "../shm/_libc.ts";
import { FileMemory } from "../shm/file_memory.ts";
import { MmapMemory } from "../shm/mmap_memory.ts";
import { isProcessOwnerDead, PROCESS_OWNER_BIT } from "../shm/process_owner.ts";
import { type ProcessHandle, startProcess } from "../workers/process_handle.ts";
import { WorkerProcess } from "../workers/worker_process.ts";
import { child, cleanUp, uniqueName } from "./_processes/_util.ts";

const BACKENDS = mmapSupported() ? (["mmap", "file"] as const) : (["file"] as const);
const WORKER_TASKS = new URL("./_processes/worker_lock_tasks.ts", import.meta.url);
const REPOSITORY = new URL("../", import.meta.url).pathname;

/** Reads the owner id in a named mutex's lock word, through a second memory on its file. */
function lockOwner(backend: string, name: string): number {
  const path = sharedPath(name);
  const memory = backend === "mmap" ? MmapMemory.open(path) : FileMemory.open(path);
  try {
    return ownerOf(memory.load(HEADER_CELLS));
  } finally {
    memory.close();
  }
}

for (const backend of BACKENDS) {
  Deno.test({
    name:
      `SIGKILL of a lock holder: detected dead, and this process takes the lock over (${backend})`,
    timeout: 30_000,
    async fn() {
      const names = [uniqueName("crash-mutex"), uniqueName("crash-held")];
      const mutex = openShared(Mutex, names[0], { backend });
      const held = openShared(Event, names[1], { backend });
      const processes: ProcessHandle[] = [];
      try {
        processes.push(startProcess(child("hold_lock_child.ts"), { args: [mutex, held] }));
        assert.ok(await held.waitAsync({ timeout: 20_000 }), "the child took the lock");
        const owner = lockOwner(backend, names[0]);
        assert.ok((owner & PROCESS_OWNER_BIT) !== 0, `a process owner id: ${owner.toString(16)}`);
        assert.equal(isProcessOwnerDead(owner), false);
        assert.equal(mutex.tryLock(), false);
        processes[0].kill();
        await processes[0].join();
        assert.equal(processes[0].signal, "SIGKILL");
        assert.equal(isProcessOwnerDead(owner), true);
        // This process never registered as an owner: it recovers the lock all the same.
        assert.ok(
          await mutex.lockAsync({ timeout: 5_000 }),
          "the dead holder's lock is taken over",
        );
        assert.equal(mutex.ownerDied, true);
        mutex.markConsistent();
        mutex.unlock();
        assert.ok(mutex.tryLock());
        assert.equal(mutex.ownerDied, false);
        mutex.unlock();
      } finally {
        await cleanUp(processes, [mutex, held], names);
      }
    },
  });

  Deno.test({
    name:
      `SIGKILL of a lock holder: the next lockers recover the lock, told the owner died (${backend})`,
    timeout: 30_000,
    async fn() {
      const names = [uniqueName("recover-mutex"), uniqueName("recover-held")];
      const mutex = openShared(Mutex, names[0], { backend });
      const held = openShared(Event, names[1], { backend });
      const processes: ProcessHandle[] = [];
      try {
        processes.push(startProcess(child("hold_lock_child.ts"), { args: [mutex, held] }));
        assert.ok(await held.waitAsync({ timeout: 20_000 }));
        // A second process blocks in lock() before the holder dies.
        processes.push(startProcess(child("wait_lock_child.ts"), { args: [mutex] }));
        await new Promise((resolve) => setTimeout(resolve, 300));
        processes[0].kill();
        assert.equal(await processes[1].exited({ timeout: 20_000 }), 0);
        // The waiter marked the state consistent and released: a plain lock now.
        assert.ok(await mutex.lockAsync({ timeout: 5_000 }));
        assert.equal(mutex.ownerDied, false);
        mutex.unlock();
      } finally {
        await cleanUp(processes, [mutex, held], names);
      }
    },
  });
}

/**
 * Runs `body` while a worker thread of a child process holds a named mutex
 * (task `task` of worker_lock_tasks.ts); cleans up after it.
 */
async function withForeignWorkerHolding(
  backend: "mmap" | "file",
  task: "holdLock" | "returnHolding",
  body: (mutex: Mutex, child: ProcessHandle, name: string) => Promise<void>,
): Promise<void> {
  const names = [uniqueName("worker-mutex"), uniqueName("worker-held")];
  const mutex = openShared(Mutex, names[0], { backend });
  const held = openShared(Event, names[1], { backend });
  const processes: ProcessHandle[] = [];
  try {
    processes.push(
      startProcess(child("worker_lock_child.ts"), {
        args: [mutex, held, task],
        // Its worker loads modules of this repository at run time.
        permissions: { read: [REPOSITORY, "/tmp"], write: ["/tmp"], ffi: backend === "mmap" },
      }),
    );
    assert.ok(await held.waitAsync({ timeout: 20_000 }), "the child's worker took the lock");
    await body(mutex, processes[0], names[0]);
  } finally {
    await cleanUp(processes, [mutex, held], names);
  }
}

for (const backend of BACKENDS) {
  Deno.test({
    name:
      `a worker thread of another process holding a lock: never taken for dead while it lives; recovered once its process dies (${backend})`,
    timeout: 30_000,
    async fn() {
      // This process's own liveness table has a worker that came and went:
      // before thread ids were unique across processes, the other process's
      // first worker had the same id as this dead one.
      const local = new WorkerProcess({ module: WORKER_TASKS, fn: "noop" });
      local.start();
      await local.joinAsync();
      await withForeignWorkerHolding(backend, "holdLock", async (mutex, holder, name) => {
        const owner = lockOwner(backend, name);
        assert.ok((owner & PROCESS_OWNER_BIT) !== 0, `an id unique across processes: ${owner}`);
        assert.equal(isProcessOwnerDead(owner), false);
        assert.equal(
          await mutex.lockAsync({ timeout: 300 }),
          false,
          "a live holder keeps its lock",
        );
        holder.kill();
        await holder.join();
        assert.ok(await mutex.lockAsync({ timeout: 5_000 }), "its process died: taken over");
        assert.equal(mutex.ownerDied, true);
        mutex.markConsistent();
        mutex.unlock();
      });
    },
  });

  Deno.test({
    name:
      `a worker thread of another process that ends holding a lock is seen dead while its process lives (${backend})`,
    timeout: 30_000,
    async fn() {
      await withForeignWorkerHolding(backend, "returnHolding", async (mutex, holder) => {
        assert.ok(
          await mutex.lockAsync({ timeout: 10_000 }),
          "the ended worker's lock is taken over",
        );
        assert.equal(mutex.ownerDied, true);
        assert.equal(holder.exitCode, null, "its process is still running");
        mutex.markConsistent();
        mutex.unlock();
      });
    },
  });
}

for (const backend of BACKENDS) {
  Deno.test({
    name: `SIGKILL of a Condition waiter: its ticket swallows no notify (${backend})`,
    timeout: 30_000,
    async fn() {
      const names = [uniqueName("crash-cond"), uniqueName("ready-a"), uniqueName("ready-b")];
      const condition = openShared(Condition, names[0], { backend });
      const ready = [
        openShared(Event, names[1], { backend }),
        openShared(Event, names[2], { backend }),
      ];
      const processes: ProcessHandle[] = [];
      try {
        for (const [i, timeout] of [[0, 30_000], [1, 10_000]]) {
          processes.push(
            startProcess(child("condition_wait_child.ts"), {
              args: [condition, ready[i], timeout],
            }),
          );
          assert.ok(await ready[i].waitAsync({ timeout: 20_000 }), `waiter ${i} holds the lock`);
          // Taking the lock proves that waiter i released it in wait(): it holds a ticket.
          assert.ok(await condition.lockAsync({ timeout: 20_000 }));
          condition.unlock();
        }
        processes[0].kill();
        await processes[0].join();
        assert.ok(await condition.lockAsync({ timeout: 5_000 }));
        assert.equal(condition.notify(1), 1, "one live waiter");
        condition.unlock();
        await processes[1].join();
        assert.equal(processes[1].exitCode, 0, "the live waiter was notified, not timed out");
      } finally {
        await cleanUp(processes, [condition, ...ready], names);
      }
    },
  });
}
