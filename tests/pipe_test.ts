import assert from "node:assert/strict";
import { Pipe, PipeEnd, type PipeEndHandle } from "../primitives/pipe.ts";
import { Queue } from "../primitives/queue.ts";
import {
  ConcurrencyError,
  LayoutError,
  MessageCorruptError,
  PipeClosedError,
  TimeoutError,
} from "../primitives/errors.ts";
import { TERMINATED_EXIT_CODE, WorkerProcess } from "../workers/worker_process.ts";
import { timed, WorkerGroup } from "./_helpers.ts";

const TASKS = new URL("./_tasks/pipe_tasks.ts", import.meta.url);

Deno.test("Pipe: duplex ends both send and receive any cloneable value (PP-1)", () => {
  const [a, b] = Pipe();
  assert.equal(a.readable && a.writable && b.readable && b.writable, true);
  a.send([1, 2.25, null]);
  a.send({ k: new Map([[1, 2]]) });
  b.send("back");
  assert.deepEqual(b.recv(), [1, 2.25, null]);
  assert.deepEqual(b.recv(), { k: new Map([[1, 2]]) });
  assert.equal(a.recv(), "back");
});

Deno.test("Pipe: one-way returns [reader, writer]; wrong direction is a TypeError (PP-2, PP-3)", () => {
  const [reader, writer] = Pipe({ duplex: false });
  assert.deepEqual([reader.readable, reader.writable], [true, false]);
  assert.deepEqual([writer.readable, writer.writable], [false, true]);
  assert.throws(() => reader.send(1), TypeError);
  assert.throws(() => reader.sendBytes(new Uint8Array(1)), TypeError);
  assert.throws(() => writer.recv(), TypeError);
  assert.throws(() => writer.recvBytes(), TypeError);
  assert.throws(() => writer.poll(), TypeError);
  writer.send("ok");
  assert.equal(reader.recv(), "ok");
});

Deno.test("Pipe: boundaries are kept, b'' is a message, poll does not consume (PP-4, PP-5, PP-8)", () => {
  const [a, b] = Pipe();
  assert.equal(a.poll(), false);
  assert.equal(a.poll({ timeout: -1 }), false);
  for (const s of ["a", "b", "cd"]) b.sendBytes(new TextEncoder().encode(s));
  b.sendBytes(new Uint8Array(0));
  assert.equal(a.poll(), true);
  assert.equal(a.poll(), true);
  const got = [a.recvBytes(), a.recvBytes(), a.recvBytes()].map((x) => new TextDecoder().decode(x));
  assert.deepEqual(got, ["a", "b", "cd"]);
  assert.equal(a.poll(), true, "the empty message is pending");
  assert.equal(a.recvBytes().length, 0);
  assert.equal(a.poll(), false);
});

Deno.test("Pipe: EOF after the peer closes, once everything sent was read (PP-6, PP-8)", async () => {
  const [a, b] = Pipe<string>({ codec: "string" });
  b.send("queued");
  b.close();
  assert.equal(a.poll(), true);
  assert.equal(a.recv(), "queued");
  assert.equal(a.poll(), true, "EOF counts as readable");
  assert.throws(() => a.recv(), PipeClosedError);
  assert.throws(() => a.recvBytes(), PipeClosedError);
  await assert.rejects(a.recvAsync(), PipeClosedError);
  assert.throws(() => a.send("x"), PipeClosedError, "send to a closed peer (PP-10)");
});

Deno.test("Pipe: using an end after closing it throws; close twice is a no-op (PP-9)", () => {
  const [a, b] = Pipe();
  a.close();
  a.close();
  assert.equal(a.closed, true);
  assert.equal(b.closed, false);
  assert.throws(() => a.send(1), PipeClosedError);
  assert.throws(() => a.recv(), PipeClosedError);
  assert.throws(() => a.poll(), PipeClosedError);
  {
    using c = PipeEnd.from(b.handle);
    assert.equal(c.closed, false);
  }
  assert.equal(b.closed, true, "using disposes (closes) the end");
});

Deno.test("Pipe: timeouts throw TimeoutError, never early (X-2)", async () => {
  const [a] = Pipe();
  let [, ms] = await timed(() => assert.throws(() => a.recv({ timeout: 50 }), TimeoutError));
  assert.ok(ms >= 49 && ms < 550, `recv timeout took ${ms} ms`);
  [, ms] = await timed(() => assert.rejects(a.recvAsync({ timeout: 30 }), TimeoutError));
  assert.ok(ms >= 29 && ms < 530, `recvAsync timeout took ${ms} ms`);
  const [ready, pollMs] = await timed(() => a.poll({ timeout: 40 }));
  assert.equal(ready, false);
  assert.ok(pollMs >= 39 && pollMs < 540, `poll(40) took ${pollMs} ms`);
  const [r, w] = Pipe({ duplex: false, capacity: 64 });
  w.sendBytes(new Uint8Array(40));
  [, ms] = await timed(() =>
    assert.throws(() => w.sendBytes(new Uint8Array(20), 0, 20, { timeout: 50 }), TimeoutError)
  );
  assert.ok(ms >= 49 && ms < 550, `send timeout took ${ms} ms`);
  assert.equal(r.recvBytes().length, 40);
  assert.equal(r.poll(), false, "the timed-out send sent nothing");
});

Deno.test("Pipe: sendBytes offset/size checks (PP-12)", () => {
  const [a, b] = Pipe();
  const data = new TextEncoder().encode("abcdefghij");
  a.sendBytes(data, 2, 3);
  assert.equal(new TextDecoder().decode(b.recvBytes()), "cde");
  assert.throws(() => a.sendBytes(data, -1), RangeError);
  assert.throws(() => a.sendBytes(data, 11), RangeError);
  assert.throws(() => a.sendBytes(data, 5, 6), RangeError);
  assert.throws(() => a.sendBytes("s" as unknown as Uint8Array), TypeError);
  assert.equal(b.poll(), false, "nothing was sent by the bad calls");
});

Deno.test("Pipe: unserializable values throw in the caller, the pipe stays usable (PP-14)", () => {
  const [a, b] = Pipe();
  assert.throws(() => a.send((() => 1) as unknown), TypeError);
  a.send("fine");
  assert.equal(b.recv(), "fine");
});

Deno.test("Pipe: bad capacities and bad handles", () => {
  for (const bad of [0, -1, 1.5, NaN]) assert.throws(() => Pipe({ capacity: bad }), RangeError);
  const [a] = Pipe();
  assert.throws(() => PipeEnd.from(new Queue(1).handle as unknown as PipeEndHandle), LayoutError);
  assert.throws(() => PipeEnd.from({ ...a.handle, end: 2 as 0 }), LayoutError);
  const copy = new SharedArrayBuffer(a.handle.memory.byteLength);
  new Uint8Array(copy).set(new Uint8Array(a.handle.memory.buffer!));
  new Int32Array(copy)[5] = 7; // duplex flag
  assert.throws(
    () => PipeEnd.from({ ...a.handle, memory: { ...a.handle.memory, buffer: copy } }),
    (e: unknown) => e instanceof LayoutError && e.problem === "bad-parameters",
  );
});

Deno.test({
  name: "Pipe: ends revived in workers; EOF ends the reader's loop",
  timeout: 30_000,
  async fn() {
    using group = new WorkerGroup();
    const [reader, writer] = Pipe({ duplex: false, capacity: 256 });
    const values = Array.from({ length: 500 }, (_, i) => ({ i, s: "x".repeat(i % 50) }));
    const drained = group.run<unknown[]>(TASKS, "drain", reader.handle);
    await group.run(TASKS, "sendAll", writer.handle, values);
    assert.deepEqual(await drained, values);
  },
});

Deno.test({
  name: "Pipe: varied sizes through a small pipe between workers; a 16 MiB message (PP-11)",
  timeout: 60_000,
  async fn() {
    using group = new WorkerGroup();
    const [reader, writer] = Pipe({ duplex: false, capacity: 1024 });
    const sender = group.run(TASKS, "sendSized", writer.handle, 2000);
    let i = 0;
    for (;;) {
      let bytes: Uint8Array;
      try {
        bytes = await reader.recvBytesAsync({ timeout: 10_000 });
      } catch (err) {
        if (err instanceof PipeClosedError) break;
        throw err;
      }
      assert.equal(bytes.length, (i * 37) % 700);
      assert.ok(bytes.every((b) => b === (i & 0xff)));
      i++;
    }
    assert.equal(i, 2000);
    await sender;

    const [a, b] = Pipe();
    const big = new Uint8Array(16 * 1024 * 1024);
    for (let k = 0; k < big.length; k += 4096) big[k] = k >>> 12;
    let sum = 0;
    for (let k = 0; k < big.length; k++) sum = (sum * 31 + big[k]) >>> 0;
    const received = group.run<[number, number]>(TASKS, "recvChecksum", b.handle);
    await a.sendBytesAsync(big);
    assert.deepEqual(await received, [big.length, sum]);
  },
});

Deno.test({
  name: "Pipe: ping-pong with a worker keeps every byte",
  timeout: 30_000,
  async fn() {
    using group = new WorkerGroup();
    const [here, there] = Pipe();
    const n = 1000;
    const echo = group.run(TASKS, "echo", there.handle, n);
    for (let i = 0; i < n; i++) {
      const bytes = new Uint8Array(i % 100).fill(i & 0xff);
      await here.sendBytesAsync(bytes);
      assert.deepEqual(await here.recvBytesAsync({ timeout: 10_000 }), bytes);
    }
    assert.equal(await echo, n);
  },
});

// ------------------------------------------- messages sent in parts, cut short

/** `promise`, or "pending" if it has not settled after `ms` (so a regression fails, not hangs). */
function within<T>(promise: Promise<T>, ms: number): Promise<T | "pending"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"pending">((resolve) =>
    timer = setTimeout(() => resolve("pending"), ms)
  );
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** `n` bytes that differ from their neighbours and from other seeds. */
function seeded(n: number, seed: number): Uint8Array {
  return new Uint8Array(n).map((_, i) => (i * 7 + seed) & 0xff);
}

Deno.test({
  name: "Pipe: a writer terminated in the middle of a long message: the next message arrives alone",
  timeout: 30_000,
  async fn() {
    const [r, w] = Pipe({ capacity: 64, duplex: false });
    // Twice: followed by a short message (one frame), then by a long one (parts).
    for (const next of [new Uint8Array([1, 2, 3]), seeded(500, 1)]) {
      const writer = new WorkerProcess({
        module: TASKS,
        fn: "sendFilled",
        args: [w, 1000, 0xaa],
      });
      writer.start();
      try {
        // The first parts are out (nobody reads: the ring fills, the send waits).
        assert.equal(await r.pollAsync({ timeout: 10_000 }), true);
        await new Promise((resolve) => setTimeout(resolve, 50));
        writer.terminate();
        assert.equal(await writer.joinAsync({ timeout: 5_000 }), true);
        assert.equal(writer.exitCode, TERMINATED_EXIT_CODE);
      } finally {
        writer.kill();
        await writer.joinAsync();
      }
      const sent = w.sendBytesAsync(next, { timeout: 5_000 });
      assert.deepEqual(await r.recvBytesAsync({ timeout: 5_000 }), next);
      await sent;
      assert.equal(r.poll(), false, "nothing of the dead message is left");
    }
    const big = seeded(1000, 2);
    const sent = w.sendBytesAsync(big, { timeout: 5_000 });
    assert.deepEqual(await r.recvBytesAsync({ timeout: 5_000 }), big);
    await sent;
  },
});

Deno.test("Pipe: a message whose start another PipeEnd object took is a MessageCorruptError, never truncated", async () => {
  const [a, b] = Pipe({ capacity: 64 });
  const big = seeded(1000, 3);
  // One object: a receive that times out mid-message keeps its parts, the next one goes on.
  let sent = a.sendBytesAsync(big);
  assert.throws(() => b.recvBytes({ timeout: 50 }), TimeoutError);
  assert.deepEqual(await b.recvBytesAsync({ timeout: 5_000 }), big);
  await sent;
  // Another object of the same end reads the rest: consumed and reported, not delivered.
  sent = a.sendBytesAsync(big);
  assert.throws(() => b.recvBytes({ timeout: 50 }), TimeoutError);
  const other = PipeEnd.from(b.handle);
  const result = await within(
    other.recvBytesAsync({ timeout: 5_000 }).then(
      (bytes) => `a ${bytes.length}-byte message`,
      (err: unknown) => err,
    ),
    6_000,
  );
  assert.ok(result instanceof MessageCorruptError, `got ${String(result)}`);
  assert.match(result.message, /start was taken by another reader object/);
  assert.equal(await within(sent, 1_000), undefined, "the sender finished: the rest was consumed");
  assert.equal(other.poll(), false);
  // The pipe goes on, for both objects (the first drops the parts it kept).
  a.sendBytes(new Uint8Array([7]));
  assert.deepEqual(other.recvBytes({ timeout: 1_000 }), new Uint8Array([7]));
  a.sendBytes(new Uint8Array([8]));
  assert.deepEqual(b.recvBytes({ timeout: 1_000 }), new Uint8Array([8]));
  for (const end of [other, b]) {
    sent = a.sendBytesAsync(big);
    assert.deepEqual(await end.recvBytesAsync({ timeout: 5_000 }), big);
    await sent;
  }
});

Deno.test("Pipe: a long send's timeout and abort hold after its first part; readers drop the part sent", async () => {
  const [a, b] = Pipe({ capacity: 64 });
  const [result, ms] = await timed(() =>
    within(
      a.sendBytesAsync(seeded(1000, 4), { timeout: 100 }).then(() => "sent", (err: unknown) => err),
      3_000,
    )
  );
  assert.ok(result instanceof TimeoutError, `got ${String(result)} after ${ms} ms`);
  assert.ok(ms >= 99 && ms < 400, `the 100 ms send took ${ms} ms`);
  assert.equal(b.poll(), true, "parts were sent");
  let sent = a.sendBytesAsync(new Uint8Array([1, 2, 3]), { timeout: 5_000 });
  assert.deepEqual(await b.recvBytesAsync({ timeout: 5_000 }), new Uint8Array([1, 2, 3]));
  await sent;

  const controller = new AbortController();
  const aborted = a.sendBytesAsync(seeded(1000, 5), { signal: controller.signal });
  assert.equal(b.poll(), true, "parts were sent");
  setTimeout(() => controller.abort(), 20);
  const outcome = await within(aborted.then(() => "sent", (err: unknown) => err), 3_000);
  assert.ok(outcome instanceof DOMException && outcome.name === "AbortError", String(outcome));
  const big = seeded(1000, 6);
  sent = a.sendBytesAsync(big, { timeout: 5_000 });
  assert.deepEqual(await b.recvBytesAsync({ timeout: 5_000 }), big);
  await sent;
  assert.equal(b.poll(), false);
});

Deno.test({
  name: "Pipe: a blocking long send in a worker times out after its first part",
  timeout: 30_000,
  async fn() {
    using group = new WorkerGroup();
    const [r, w] = Pipe({ capacity: 64, duplex: false });
    const sending = group.run<[string, number]>(TASKS, "sendTimed", w.handle, 1000, 100);
    const result = await within(sending, 5_000);
    r.close(); // unblocks a send that ignores its timeout
    await sending.catch(() => {});
    assert.notEqual(result, "pending", "the send ignored its timeout");
    const [name, ms] = result as [string, number];
    assert.equal(name, "TimeoutError");
    assert.ok(ms >= 99 && ms < 400, `the 100 ms send took ${ms} ms`);
  },
});

Deno.test("Pipe: async sends of one end go out in call order, a long one whole; a sync send waits its turn or throws", async () => {
  const [reader, writer] = Pipe({ duplex: false, capacity: 256 }); // 64 cells: parts of 120 bytes
  writer.sendBytes(new Uint8Array(76).fill(7)); // fills a third, so the long one must wait for room
  const long = writer.sendBytesAsync(new Uint8Array(200).fill(1)); // part 1 out, part 2 waits
  const short = writer.sendBytesAsync(new Uint8Array([9, 9, 9])); // must not come between them
  assert.throws(() => writer.sendBytes(new Uint8Array([5])), ConcurrencyError);
  const lengths: number[] = [];
  for (let i = 0; i < 3; i++) {
    lengths.push((await reader.recvBytesAsync({ timeout: 5_000 })).length);
  }
  await Promise.all([long, short]);
  assert.deepEqual(lengths, [76, 200, 3]);
  // A queued send's timeout covers its wait for the turn.
  writer.sendBytes(new Uint8Array(200)); // fills the pipe with no reader
  const blocked = writer.sendBytesAsync(new Uint8Array(200), { timeout: 50 });
  await assert.rejects(writer.sendBytesAsync(new Uint8Array([1]), { timeout: 20 }), TimeoutError);
  await assert.rejects(blocked, TimeoutError);
  writer.sendBytes(new Uint8Array([2]), undefined, undefined, { timeout: 0 }); // settled: allowed again
});

Deno.test("Pipe: an async send that gives up waiting for its turn lets no later one into a long message", async () => {
  for (const giveUp of ["timeout", "abort"] as const) {
    const [reader, writer] = Pipe({ duplex: false, capacity: 256 }); // parts of 120 bytes
    writer.sendBytes(new Uint8Array(76).fill(7));
    const long = writer.sendBytesAsync(new Uint8Array(200).fill(1)); // part 1 out, part 2 waits
    const stop = new AbortController();
    const queued = writer.sendBytesAsync(
      new Uint8Array([1]),
      giveUp === "timeout" ? { timeout: 20 } : { signal: stop.signal },
    );
    stop.abort(new Error("gave up"));
    await assert.rejects(queued);
    const short = writer.sendBytesAsync(new Uint8Array([9, 9, 9])); // after `long`, whole
    const lengths: number[] = [];
    for (let i = 0; i < 3; i++) {
      lengths.push((await reader.recvBytesAsync({ timeout: 5_000 })).length);
    }
    await Promise.all([long, short]);
    assert.deepEqual(lengths, [76, 200, 3], giveUp);
  }
});
