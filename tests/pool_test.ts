import assert from "node:assert/strict";
import { Event } from "../primitives/event.ts";
import { Mutex } from "../primitives/mutex.ts";
import {
  ClosedError,
  ConcurrencyError,
  RemoteError,
  TimeoutError,
  WorkerDiedError,
} from "../primitives/errors.ts";
import { Pool } from "../workers/pool.ts";
import { WorkerProcess } from "../workers/worker_process.ts";

const TASKS = new URL("./_tasks/pool_tasks.ts", import.meta.url);
const T = { timeout: 30_000 };

/** Resolves with what `promise` gives, or with "pending" after `ms` (a hang is a failure, not a stall). */
async function within<X>(promise: Promise<X>, ms: number): Promise<X | "pending"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"pending">((resolve) => (timer = setTimeout(resolve, ms, "pending")));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test({
  name: "Pool: PL-1 size validation and default",
  fn: () => {
    for (const size of [0, -1, 1.5, 2000]) {
      assert.throws(() => new Pool({ module: TASKS, size }), RangeError, `size ${size}`);
    }
    assert.throws(() => new Pool({ module: "./relative.ts" }), TypeError);
    for (const ringBytes of [NaN, -1, 0, 1.5, 2 ** 31, "1mb" as unknown as number]) {
      assert.throws(
        () => new Pool({ module: TASKS, ringBytes }),
        RangeError,
        `ringBytes ${ringBytes}`,
      );
    }
  },
});

Deno.test({
  name:
    "Pool: PL-2/PL-3 apply, map (input order), map([]), starmap; PL-13' await using = close+join",
  ...T,
  fn: async () => {
    await using pool = new Pool({ module: TASKS, size: 2 });
    assert.equal(pool.size, 2);
    assert.equal(await pool.apply("square", [5]), 25);
    assert.equal(await pool.apply("add", [2, 3]), 5);
    const items = Array.from({ length: 200 }, (_, i) => i);
    assert.deepEqual(await pool.map("square", items), items.map((x) => x * x));
    assert.deepEqual(await pool.map("square", []), []);
    assert.deepEqual(await pool.starmap("add", [[1, 2], [3, 4]]), [3, 7]);
    assert.deepEqual(await pool.apply("identity", [{ a: [1, "x"], d: new Date(0) }]), {
      a: [1, "x"],
      d: new Date(0),
    });
    assert.equal(await pool.apply("nothing"), undefined);
    assert.equal(await pool.apply("sleepy", [20, 7]), 7);
  },
});

Deno.test({
  name:
    "Pool: PL-4/PL-7 a failing task rejects its own result with the remote stack; the pool goes on",
  ...T,
  fn: async () => {
    await using pool = new Pool({ module: TASKS, size: 2 });
    const error = await pool.apply("failOn3", [3]).catch((e) => e);
    assert.ok(error instanceof RemoteError);
    assert.equal(error.remoteName, "RangeError");
    assert.equal(error.message, "bad item 3");
    assert.match((error.cause as Error).stack!, /failOn3/);
    await assert.rejects(pool.map("failOn3", [0, 1, 2, 3, 4, 5]), /bad item 3/);
    await assert.rejects(pool.apply("noSuchExport"), /no exported function "noSuchExport"/);
    await assert.rejects(pool.apply("unserializable"), RemoteError, "PL-16");
    assert.equal(await pool.apply("square", [9]), 81, "the pool survives");
  },
});

Deno.test({
  name: "Pool: PL-5/PL-6 applyAsync, AsyncResult, callbacks run once before ready",
  ...T,
  fn: async () => {
    await using pool = new Pool({ module: TASKS, size: 2 });
    const seen: unknown[] = [];
    const slow = pool.applyAsync<number>("sleepy", [300, 1], {
      callback: (v) => seen.push(["ok", v]),
      errorCallback: (e) => seen.push(["err", e]),
    });
    assert.equal(slow.ready(), false);
    assert.throws(() => slow.successful(), ConcurrencyError);
    await assert.rejects(slow.get({ timeout: 20 }), TimeoutError);
    assert.equal(await slow.wait({ timeout: 10 }), false);
    assert.equal(await slow.get(), 1);
    assert.deepEqual(seen, [["ok", 1]]);
    assert.equal(slow.ready(), true);
    assert.equal(slow.successful(), true);
    const failing = pool.applyAsync<number>("failOn3", [3], {
      callback: (v) => seen.push(["ok", v]),
      errorCallback: (e) => seen.push(["err", (e as Error).message]),
    });
    await assert.rejects(failing.get(), RemoteError);
    assert.deepEqual(seen, [["ok", 1], ["err", "bad item 3"]]);
    assert.equal(failing.successful(), false);
    assert.equal(await failing.wait(), true);
  },
});

Deno.test({
  name: "Pool: PL-15' a throwing callback rejects only its own result; later results arrive",
  ...T,
  fn: async () => {
    await using pool = new Pool({ module: TASKS, size: 2 });
    const bad = pool.applyAsync("square", [2], {
      callback: () => {
        throw new Error("callback bug");
      },
    });
    const later = pool.applyAsync("square", [3]);
    await assert.rejects(bad.get(), /callback bug/);
    assert.equal(await later.get({ timeout: 5000 }), 9);
    assert.equal(await pool.apply("square", [4]), 16);
  },
});

Deno.test({
  name:
    "Pool: PL-9/PL-10 imap in input order, imapUnordered in completion order, error at its position",
  ...T,
  fn: async () => {
    await using pool = new Pool({ module: TASKS, size: 2 });
    // Completion order is only meaningful once both workers run (start-up can be slow).
    for (let i = 0; i < 50; i++) {
      const ids = await Promise.all([pool.apply("sleepyWho", [30]), pool.apply("sleepyWho", [30])]);
      if (ids[0] !== ids[1]) break;
    }
    const ordered: number[] = [];
    for await (const x of pool.imap<number>("slowFirst", [0, 1, 2, 3, 4, 5])) ordered.push(x);
    assert.deepEqual(ordered, [0, 1, 2, 3, 4, 5]);
    const unordered: number[] = [];
    for await (const x of pool.imapUnordered<number>("slowFirst", [0, 1, 2, 3, 4, 5])) {
      unordered.push(x);
    }
    assert.deepEqual([...unordered].sort(), [0, 1, 2, 3, 4, 5]);
    assert.equal(unordered.at(-1), 0, "the slow item comes last");
    const before: number[] = [];
    await assert.rejects(async () => {
      for await (const x of pool.imap<number>("failOn3", [0, 1, 2, 3, 4, 5])) before.push(x);
    }, /bad item 3/);
    assert.deepEqual(before, [0, 1, 2]);
  },
});

Deno.test({
  name:
    "Pool: PL-11 close stops submissions, submitted tasks finish, join waits; join before close throws",
  ...T,
  fn: async () => {
    const pool = new Pool({ module: TASKS, size: 2 });
    await assert.rejects(pool.join(), ConcurrencyError);
    const results = [1, 2, 3, 4, 5, 6].map((i) => pool.apply("sleepy", [30, i]));
    pool.close();
    await assert.rejects(pool.apply("square", [1]), ClosedError);
    assert.throws(() => pool.applyAsync("square", [1]), ClosedError);
    await pool.join();
    assert.deepEqual(await Promise.all(results), [1, 2, 3, 4, 5, 6]);
  },
});

Deno.test({
  name: "Pool: PL-12' terminate stops workers blocked in waits and rejects pending tasks",
  ...T,
  fn: async () => {
    const event = new Event();
    const pool = new Pool({ module: TASKS, size: 2, initializer: "keepEvent", initArgs: [event] });
    const blocked = [pool.apply("blockForever"), pool.apply("blockForever")];
    const queued = Array.from({ length: 100 }, (_, i) => pool.apply("square", [i]));
    const settled = Promise.allSettled([...blocked, ...queued]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const t0 = performance.now();
    await pool.terminate();
    assert.ok(performance.now() - t0 < 2000, "terminate returned promptly");
    for (const result of (await settled).slice(0, 2)) {
      assert.ok(result.status === "rejected" && result.reason instanceof ClosedError);
    }
    // Queued tasks either ran before terminate (fulfilled) or were rejected: none pending.
    for (const result of (await settled).slice(2)) {
      assert.ok(result.status === "fulfilled" || result.reason instanceof ClosedError);
    }
    await assert.rejects(pool.apply("square", [1]), ClosedError);
  },
});

Deno.test({
  name: "Pool: PL-14' a worker dying mid-task fails that task and is replaced",
  ...T,
  fn: async () => {
    await using pool = new Pool({ module: TASKS, size: 2 });
    const before = new Set(await Promise.all([1, 2, 3, 4].map(() => pool.apply("whoAmI"))));
    const error = await pool.apply("crash").catch((e) => e);
    assert.ok(error instanceof WorkerDiedError, String(error));
    assert.equal(await pool.apply("square", [3]), 9);
    const after = await Promise.all(
      Array.from({ length: 8 }, () => pool.apply<number>("busy", [5])),
    );
    assert.equal(after.length, 8);
    const ids = new Set(await Promise.all([1, 2, 3, 4].map(() => pool.apply<number>("whoAmI"))));
    assert.ok([...ids].some((id) => !before.has(id)) || ids.size <= 2);
  },
});

Deno.test({
  name:
    "Pool: initializer runs once per worker with revived primitives; a failing initializer never hangs",
  ...T,
  fn: async () => {
    const counter = new Int32Array(new SharedArrayBuffer(4));
    {
      await using pool = new Pool({
        module: TASKS,
        size: 2,
        initializer: "init",
        initArgs: [counter],
      });
      await pool.map("square", [1, 2, 3, 4]);
      assert.equal(await pool.apply("initCount"), Atomics.load(counter, 0));
    }
    assert.equal(Atomics.load(counter, 0), 2);
    const broken = new Pool({ module: TASKS, size: 1, initializer: "badInit" });
    const error = await broken.apply("square", [2]).catch((e) => e);
    assert.ok(error instanceof WorkerDiedError, String(error));
    await broken.terminate();
  },
});

Deno.test({
  name: "Pool: tasks a dying worker had claimed but not started are re-queued, not lost",
  ...T,
  fn: async () => {
    await using pool = new Pool({ module: TASKS, size: 1 });
    const crashed = pool.apply("crash");
    const others = [1, 2, 3, 4, 5, 6, 7].map((x) => pool.apply("square", [x]));
    const error = await crashed.catch((e) => e);
    assert.ok(error instanceof WorkerDiedError, String(error));
    assert.deepEqual(await Promise.all(others), [1, 4, 9, 16, 25, 36, 49]);
  },
});

Deno.test({
  name: "Pool: PL-17 maxTasksPerWorker replaces workers; invalid values are RangeErrors",
  ...T,
  fn: async () => {
    for (const bad of [0, -1, 0.5]) {
      assert.throws(() => new Pool({ module: TASKS, size: 1, maxTasksPerWorker: bad }), RangeError);
    }
    await using pool = new Pool({ module: TASKS, size: 2, maxTasksPerWorker: 1 });
    const ids: number[] = [];
    for (let i = 0; i < 6; i++) ids.push(await pool.apply<number>("whoAmI"));
    assert.equal(new Set(ids).size, 6, "every task ran in a fresh worker");
    assert.deepEqual(await pool.map("square", [1, 2, 3, 4, 5, 6, 7, 8]), [
      1,
      4,
      9,
      16,
      25,
      36,
      49,
      64,
    ]);
  },
});

Deno.test({
  name:
    "Pool: under repeated worker crashes every task settles exactly once, with the right outcome",
  ...T,
  fn: async () => {
    await using pool = new Pool({ module: TASKS, size: 3 });
    const n = 120;
    const settled = await Promise.allSettled(
      Array.from({ length: n }, (_, x) => pool.apply<number>("maybeCrash", [x])),
    );
    settled.forEach((result, x) => {
      if (x % 17 === 5) {
        assert.ok(result.status === "rejected" && result.reason instanceof WorkerDiedError, `${x}`);
      } else if (x % 13 === 3) {
        assert.ok(result.status === "rejected" && result.reason instanceof RemoteError, `${x}`);
      } else {
        assert.deepEqual(result, { status: "fulfilled", value: x * 2 });
      }
    });
  },
});

Deno.test({
  name:
    "Pool: close() with maxTasksPerWorker runs every queued task (retired workers are replaced)",
  ...T,
  fn: async () => {
    const pool = new Pool({ module: TASKS, size: 2, maxTasksPerWorker: 2 });
    try {
      const results = [1, 2, 3, 4, 5, 6, 7, 8].map((x) => pool.apply("sleepy", [20, x]));
      for (const result of results) result.catch(() => {}); // a hang ends in terminate()
      pool.close();
      assert.equal(await within(pool.join().then(() => "joined"), 15_000), "joined");
      assert.deepEqual(await Promise.all(results), [1, 2, 3, 4, 5, 6, 7, 8]);
    } finally {
      await pool.terminate();
    }
  },
});

Deno.test({
  name: "Pool: AsyncResult.get with a timeout of 2^31 ms or more waits for the result",
  ...T,
  fn: async () => {
    await using pool = new Pool({ module: TASKS, size: 1 });
    for (const timeout of [2 ** 31, 2 ** 32 + 5, Number.MAX_VALUE]) {
      const t0 = performance.now();
      assert.equal(await pool.applyAsync("sleepy", [150, 5]).get({ timeout }), 5, `${timeout}`);
      assert.ok(performance.now() - t0 >= 140);
    }
  },
});

Deno.test({
  name: "Pool: a result or error too large for the ring fails only its task; the worker survives",
  ...T,
  fn: async () => {
    await using pool = new Pool({ module: TASKS, size: 1, ringBytes: 4096 });
    const worker = await pool.apply<number>("whoAmI");
    const error = await pool.apply("bigResult", [100_000]).catch((e) => e);
    assert.ok(error instanceof RangeError, String(error));
    assert.equal(
      error.message,
      `Cannot return the result of task "bigResult": its 100002 encoded bytes exceed the result ring's 4084 (raise ringBytes)`,
    );
    const big = await pool.apply("bigError", [100_000]).catch((e) => e);
    assert.ok(big instanceof RemoteError, String(big));
    assert.equal(big.message, "e".repeat(2048), "the message is cut to fit");
    assert.equal(await pool.apply("bigResult", [4000]), "x".repeat(4000), "the largest that fits");
    assert.equal(await pool.apply("whoAmI"), worker, "the same worker");
    // Arguments are checked at submit: nothing reaches a worker.
    await assert.rejects(
      pool.apply("identity", ["y".repeat(10_000)]),
      (e: unknown) => e instanceof RangeError && /exceed the ring's 4084/.test(e.message),
    );
    assert.throws(() => pool.applyAsync("identity", ["y".repeat(10_000)]), RangeError);
    assert.equal(await pool.apply("whoAmI"), worker);
  },
});

Deno.test({
  name: "Pool: an input iterable that throws partway delivers the values before it, then its error",
  ...T,
  fn: async () => {
    await using pool = new Pool({ module: TASKS, size: 2 });
    function* bad(): Generator<number> {
      yield 1;
      yield 2;
      throw new Error("iter boom");
    }
    const ordered: number[] = [];
    await assert.rejects(async () => {
      for await (const x of pool.imap<number>("square", bad())) ordered.push(x);
    }, /iter boom/);
    assert.deepEqual(ordered, [1, 4]);
    const unordered: number[] = [];
    await assert.rejects(async () => {
      for await (const x of pool.imapUnordered<number>("square", bad())) unordered.push(x);
    }, /iter boom/);
    assert.deepEqual(unordered.sort(), [1, 4]);
    await assert.rejects(pool.map("square", bad()), /iter boom/);
    // A failed task before the input's failure comes first (input order).
    await assert.rejects(
      pool.map(
        "failOn3",
        (function* () {
          yield 3;
          throw new Error("iter boom");
        })(),
      ),
      /bad item 3/,
    );
    assert.equal(await pool.apply("square", [7]), 49);
  },
});

Deno.test({
  name: "Pool: task arguments that cannot arrive as themselves are TypeErrors at submit",
  ...T,
  fn: async () => {
    const pool = new Pool({ module: TASKS, size: 1 });
    try {
      await assert.rejects(
        pool.apply("identity", [new Mutex()]),
        (e: unknown) =>
          e instanceof TypeError &&
          e.message ===
            `Cannot submit task "identity": args[0] is a Mutex: task arguments cannot carry primitives (pass them to the workers with initArgs)`,
      );
      await assert.rejects(
        pool.apply("identity", [{ nested: [1, pool] }]),
        (e: unknown) =>
          e instanceof TypeError &&
          e.message ===
            `Cannot submit task "identity": args[0].nested[1] is a Pool, which cannot be sent to another thread or process`,
      );
      assert.throws(() => pool.applyAsync("identity", [new Map([["k", new Mutex()]])]), TypeError);
      await assert.rejects(pool.map("identity", [1, new Event()]), TypeError);
      const returned = await pool.apply("returnMutex").catch((e) => e);
      assert.ok(returned instanceof RemoteError && returned.remoteName === "TypeError");
      assert.match(returned.message, /its value is a Mutex: task results cannot carry primitives/);
      assert.throws(
        () => new Pool({ module: TASKS, size: 1, initArgs: [pool] }),
        (e: unknown) => e instanceof TypeError && /initArgs\[0\] is a Pool/.test(e.message),
      );
      const worker = new WorkerProcess({ module: TASKS, fn: "identity", args: [[pool]] });
      assert.throws(
        () => worker.start(),
        (e: unknown) => e instanceof TypeError && /args\[0\]\[0\] is a Pool/.test(e.message),
      );
      assert.equal(worker.isAlive, false);
      assert.equal(await pool.apply("square", [3]), 9, "the pool goes on");
    } finally {
      await pool.terminate();
    }
  },
});

Deno.test({
  name: "Pool: -0 survives the JSON fast path, alone and nested",
  ...T,
  fn: async () => {
    await using pool = new Pool({ module: TASKS, size: 1 });
    assert.ok(Object.is(await pool.apply("identity", [-0]), -0));
    const nested = await pool.apply<{ a: number[] }>("identity", [{ a: [1, -0] }]);
    assert.ok(Object.is(nested.a[1], -0));
    assert.ok(Object.is(await pool.apply("identity", [0]), 0));
  },
});

Deno.test({
  name: "Pool: remote errors keep a thrown object's message, the subclass name and own data",
  ...T,
  fn: async () => {
    await using pool = new Pool({ module: TASKS, size: 1 });
    const plain = await pool.apply("throwObject").catch((e) => e);
    assert.ok(plain instanceof RemoteError);
    assert.equal(plain.message, "obj msg");
    assert.equal(plain.remoteName, "Error");
    assert.equal((plain as RemoteError & { code: number }).code, 42);
    const custom = await pool.apply("throwCustom").catch((e) => e);
    assert.ok(custom instanceof RemoteError);
    assert.equal(custom.remoteName, "CustomError");
    assert.equal(custom.message, "custom msg");
    const carried = custom as RemoteError & Record<string, unknown>;
    assert.equal(carried.code, 7);
    assert.deepEqual(carried.detail, { retry: [1, 2], at: new Date(0) });
    assert.equal("callback" in carried, false, "a function is not cloneable: dropped");
    assert.match((custom.cause as Error).stack!, /throwCustom/);
  },
});

Deno.test({
  name: "Pool: a task ending its worker with Deno.exit fails with the exit code; the pool goes on",
  ...T,
  fn: async () => {
    await using pool = new Pool({ module: TASKS, size: 1 });
    const error = await pool.apply("denoExit", [3]).catch((e) => e);
    assert.ok(error instanceof WorkerDiedError, String(error));
    assert.match(error.message, /\(exit code 3\)/);
    assert.equal(await pool.apply("square", [4]), 16);
  },
});

Deno.test({
  name: "Pool: join() takes a timeout and a signal; they end the wait, not the tasks",
  fn: async () => {
    const pool = new Pool({ module: TASKS, size: 1 });
    try {
      const slow = pool.apply("sleepy", [500, 7]);
      pool.close();
      assert.equal(await pool.join({ timeout: 20 }), false, "the task is still running");
      const controller = new AbortController();
      const aborted = pool.join({ signal: controller.signal });
      controller.abort(new Error("stop waiting"));
      await assert.rejects(aborted, /stop waiting/);
      assert.equal(await slow, 7, "the task went on");
      assert.equal(await pool.join({ timeout: 10_000 }), true);
    } finally {
      await pool.terminate();
    }
  },
});
