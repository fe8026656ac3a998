/**
 * IPC between processes (issue 5 item 7, issue 6): the byte-stream paths
 * between two Deno processes, carrying the same messages as every other
 * path (`_messages.ts`), framed as 8-byte header + payload, one awaited write
 * per message, each message checked by the receiver:
 *
 * - a child's stdin (parent → child), echoes on its stdout;
 * - a Unix domain socket;
 * - TCP on loopback (`TCP_NODELAY`).
 *
 * Throughput: the parent sends `n` messages, the child checks them and
 * acknowledges the count (the iteration ends at the acknowledgement).
 * Round trip: the child echoes each message; the parent checks each echo.
 * The runner's baseline for these tables is Python's `multiprocessing.Queue`
 * (`bench/python/mp_bench.py`). Cross-process `Queue`s on the file-backed and
 * memory-mapped memories belong in `bench/processes.bench.ts`.
 *
 * Run: `deno bench -A bench/ipc/processes.bench.ts` (or through `bench/run.ts`).
 *
 * @module
 */

import { bench, QUICK } from "../_harness.ts";
import {
  commandFrame,
  type Frame,
  frame,
  FrameReader,
  MODE,
  type ReadInto,
  TAG,
  type WriteAll,
  writerOf,
} from "./_frames.ts";
import {
  blockSize,
  checkMessage,
  counts,
  encodeMessage,
  makeBlock,
  stampBlock,
  type Workload,
  WORKLOADS,
} from "./_messages.ts";

interface Link {
  name: string;
  /** Set once an iteration failed: the child may be mid-command, so later iterations fail fast. */
  broken?: string;
  write: WriteAll;
  reader: FrameReader;
  child: Deno.ChildProcess;
  close(): void;
}

const CHILD = new URL("./_process_child.ts", import.meta.url).href; // deno run takes URLs
const socketDir = Deno.makeTempDirSync({ prefix: "concur-ipc-bench-" });

function spawnChild(args: string[], piped: boolean): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CHILD, ...args],
    stdin: piped ? "piped" : "null",
    stdout: piped ? "piped" : "null",
    stderr: "inherit",
  }).spawn();
}

function streamReader(stream: ReadableStream<Uint8Array>): ReadInto {
  const reader = stream.getReader();
  let left: Uint8Array = new Uint8Array(0);
  return async (into) => {
    if (left.byteLength === 0) {
      const { value, done } = await reader.read();
      if (done) return null;
      left = value;
    }
    const count = Math.min(into.byteLength, left.byteLength);
    into.set(left.subarray(0, count));
    left = left.subarray(count);
    return count;
  };
}

async function pipeLink(): Promise<Link> {
  const child = spawnChild(["pipe"], true);
  const writer = child.stdin.getWriter();
  return await Promise.resolve({
    name: "stdin/stdout pipe",
    write: (bytes: Uint8Array) => writer.write(bytes),
    reader: new FrameReader(streamReader(child.stdout)),
    child,
    close: () => writer.close().catch(() => {}),
  });
}

async function socketLink(kind: "unix" | "tcp"): Promise<Link> {
  const path = `${socketDir}/ipc.sock`;
  const listener = kind === "unix"
    ? Deno.listen({ transport: "unix", path })
    : Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const address = kind === "unix" ? path : String((listener.addr as Deno.NetAddr).port);
  const child = spawnChild([kind, address], false);
  const conn = await listener.accept();
  listener.close();
  if (kind === "tcp") (conn as Deno.TcpConn).setNoDelay(true);
  return {
    name: kind === "unix" ? "Unix domain socket" : "TCP loopback",
    write: writerOf(conn),
    reader: new FrameReader((into) => conn.read(into)),
    child,
    close: () => conn.close(),
  };
}

const links = [await pipeLink(), await socketLink("unix"), await socketLink("tcp")];

globalThis.addEventListener("unload", () => {
  for (const link of links) {
    try {
      link.close();
      link.child.kill("SIGKILL");
    } catch { /* already gone */ }
  }
  Deno.removeSync(socketDir, { recursive: true });
});

/** A reply the child owes within 10 s: a lost message must fail the bench, not hang it. */
const REPLY_TIMEOUT_MS = 10_000;

async function nextFrame(link: Link, what: string): Promise<Frame> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${link.name}: no ${what} within ${REPLY_TIMEOUT_MS / 1000} s`)),
      REPLY_TIMEOUT_MS,
    );
  });
  try {
    const frame = await Promise.race([link.reader.next(), timeout]);
    if (frame === null) throw new Error(`${link.name}: the child closed the stream`);
    return frame;
  } finally {
    clearTimeout(timer);
  }
}

/** Runs one iteration on a link; a failure breaks the link for the iterations after it. */
async function onLink(link: Link, iteration: () => Promise<void>): Promise<void> {
  if (link.broken) throw new Error(`${link.name}: broken by an earlier failure (${link.broken})`);
  try {
    await iteration();
  } catch (error) {
    link.broken = String(error instanceof Error ? error.message : error);
    throw error;
  }
}

/** Reads the child's acknowledgement and throws unless it received `n` intact messages. */
async function expectAck(link: Link, n: number): Promise<void> {
  const ack = await nextFrame(link, "acknowledgement");
  if (ack.tag !== TAG.ACK) throw new Error(`${link.name}: expected an acknowledgement`);
  const view = new DataView(ack.payload.buffer, ack.payload.byteOffset, ack.payload.byteLength);
  const count = view.getUint32(0, true);
  const error = new TextDecoder().decode(ack.payload.subarray(4));
  if (error) throw new Error(`${link.name}: child reports ${error}`);
  if (count !== n) throw new Error(`${link.name}: child received ${count} of ${n} messages`);
}

/** Frames for message `i`: block workloads restamp one prebuilt frame, JSON is encoded anew. */
function framer(workload: Workload): (i: number) => Uint8Array {
  if (workload === "json") return (i) => frame(TAG.DATA, encodeMessage(workload, i));
  const prebuilt = frame(TAG.DATA, makeBlock(blockSize(workload), 0));
  const payload = prebuilt.subarray(8);
  return (i) => {
    stampBlock(payload, i);
    return prebuilt;
  };
}

for (const workload of WORKLOADS) {
  const { messages, roundTrips } = counts(workload, QUICK);
  const index = WORKLOADS.indexOf(workload);
  const frameOf = framer(workload);
  for (const link of links) {
    bench({
      question: "processes: throughput",
      name: link.name,
      workload,
      metric: "rate",
      op: "msg",
      opsPerIter: messages,
      baseline: link === links[0],
      fn: () =>
        onLink(link, async () => {
          await link.write(commandFrame(MODE.SINK, index, messages));
          for (let i = 0; i < messages; i++) await link.write(frameOf(i));
          await expectAck(link, messages);
        }),
    });
    bench({
      question: "processes: round trip",
      name: link.name,
      workload,
      metric: "latency",
      op: "rtt",
      opsPerIter: roundTrips,
      baseline: link === links[0],
      fn: () =>
        onLink(link, async () => {
          await link.write(commandFrame(MODE.ECHO, index, roundTrips));
          for (let i = 0; i < roundTrips; i++) {
            await link.write(frameOf(i));
            const echo = await nextFrame(link, `echo of message ${i}`);
            if (echo.tag !== TAG.DATA) throw new Error(`${link.name}: echo ${i} missing`);
            checkMessage(workload, echo.payload, i);
          }
          await expectAck(link, roundTrips);
        }),
    });
  }
}
