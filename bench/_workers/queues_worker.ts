/// <reference lib="deno.worker" />
/**
 * Worker side of `bench/queues.bench.ts`. Role `a` produces (or pings),
 * role `b` consumes (or echoes) and checks every message; both start on the
 * control block's go-signal, so no postMessage is inside a timed iteration.
 *
 * @module
 */

import { Queue, type QueueHandle } from "../../primitives/queue.ts";
import { RingBuffer, type RingBufferHandle } from "../../primitives/ring_buffer.ts";
import {
  checkBlock,
  checkMessage,
  checkValue,
  encodeMessage,
  makeBlock,
  stampBlock,
  type Workload,
} from "../ipc/_messages.ts";
import { type CaseName, CASES, QB } from "./queues_layout.ts";

interface Setup {
  role: "a" | "b";
  control: Int32Array;
  rings: Record<string, RingBufferHandle>;
  queues: Record<string, QueueHandle>;
}

const TIMEOUT = { timeout: 30_000 };
const encoder = new TextEncoder();
const decoder = new TextDecoder();

class Stall extends Error {}

/** The first 4 bytes as a little-endian uint32 (received messages may be views into a pool). */
function littleEndian32(bytes: Uint8Array): number {
  return (bytes[0] | (bytes[1] << 8) | (bytes[2] << 16) | (bytes[3] << 24)) >>> 0;
}

function sent(ok: boolean): void {
  if (!ok) throw new Stall("push timed out");
}

function must<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Stall(`${what} timed out`);
  return value;
}

self.onmessage = (event: MessageEvent) => {
  const { role, control, rings: ringHandles, queues: queueHandles } = event.data as Setup;
  const rings = Object.fromEntries(
    Object.entries(ringHandles).map(([k, h]) => [k, RingBuffer.from(h)]),
  );
  const queues = Object.fromEntries(
    Object.entries(queueHandles).map(([k, h]) => [k, Queue.from(h)]),
  );
  const block64 = makeBlock(64, 0);
  const bytes4 = new Uint8Array(4);
  const view4 = new DataView(bytes4.buffer);
  const chunk = new Int32Array(64);
  self.postMessage("ready");

  /** Byte messages of `workload` one way (a produces, b checks). */
  const oneWay = (
    push: (bytes: Uint8Array) => void,
    pop: () => Uint8Array,
    workload: Workload,
    n: number,
  ): number => {
    const scratch = workload === "json"
      ? undefined
      : makeBlock(workload === "b64k" ? 65536 : 64, 0);
    if (role === "a") {
      for (let i = 0; i < n; i++) push(encodeMessage(workload, i, scratch));
    } else {
      for (let i = 0; i < n; i++) checkMessage(workload, pop(), i);
    }
    return -1;
  };

  /** Ping-pong of byte messages of `workload`: a sends i, b checks and echoes, a checks the echo. */
  const roundTrip = (
    ping: { push: (bytes: Uint8Array) => void; pop: () => Uint8Array },
    pong: { push: (bytes: Uint8Array) => void; pop: () => Uint8Array },
    workload: Workload,
    n: number,
  ): number => {
    const scratch = workload === "json"
      ? undefined
      : makeBlock(workload === "b64k" ? 65536 : 64, 0);
    if (role === "a") {
      for (let i = 0; i < n; i++) {
        ping.push(encodeMessage(workload, i, scratch));
        checkMessage(workload, pong.pop(), i);
      }
    } else {
      for (let i = 0; i < n; i++) {
        const got = ping.pop();
        checkMessage(workload, got, i);
        pong.push(got);
      }
    }
    return -1;
  };
  const ringEnds = (ring: RingBuffer) => ({
    push: (bytes: Uint8Array) => sent(ring.push(bytes, TIMEOUT)),
    pop: () => must(ring.pop(TIMEOUT), "pop"),
  });
  const queueEnds = (queue: Queue<Uint8Array>) => ({
    push: (bytes: Uint8Array) => queue.put(bytes, TIMEOUT),
    pop: () => queue.get(TIMEOUT),
  });

  const run = (name: CaseName, n: number): number => {
    switch (name) {
      case "ring-int4": {
        const ring = rings.int;
        if (role === "a") {
          for (let i = 0; i < n; i++) sent(ring.pushNumber(i, TIMEOUT));
        } else {
          for (let i = 0; i < n; i++) if (must(ring.popNumber(TIMEOUT), "pop") !== i) return i;
        }
        return -1;
      }
      case "ring-bytes4": {
        const ring = rings.bytes;
        if (role === "a") {
          for (let i = 0; i < n; i++) {
            view4.setUint32(0, i, true);
            sent(ring.push(bytes4, TIMEOUT));
          }
        } else {
          for (let i = 0; i < n; i++) {
            const got = must(ring.pop(TIMEOUT), "pop");
            if (got.length !== 4 || littleEndian32(got) !== i) return i;
          }
        }
        return -1;
      }
      case "ring-b64": {
        const ring = rings.bytes;
        if (role === "a") {
          for (let i = 0; i < n; i++) {
            stampBlock(block64, i);
            sent(ring.push(block64, TIMEOUT));
          }
        } else {
          for (let i = 0; i < n; i++) checkBlock(must(ring.pop(TIMEOUT), "pop"), 64, i);
        }
        return -1;
      }
      case "ring-json": {
        const ring = rings.bytes;
        if (role === "a") {
          for (let i = 0; i < n; i++) {
            sent(
              ring.push(
                encoder.encode(JSON.stringify({ id: i, name: "ticket", ok: true })),
                TIMEOUT,
              ),
            );
          }
        } else {
          for (let i = 0; i < n; i++) {
            checkValue("json", JSON.parse(decoder.decode(must(ring.pop(TIMEOUT), "pop"))), i);
          }
        }
        return -1;
      }
      case "queue-int4": {
        const queue = queues.int as Queue<number>;
        if (role === "a") {
          for (let i = 0; i < n; i++) queue.put(i, TIMEOUT);
        } else {
          for (let i = 0; i < n; i++) if (queue.get(TIMEOUT) !== i) return i;
        }
        return -1;
      }
      case "queue-bytes4": {
        const queue = queues.bytes as Queue<Uint8Array>;
        if (role === "a") {
          for (let i = 0; i < n; i++) {
            view4.setUint32(0, i, true);
            queue.put(bytes4, TIMEOUT);
          }
        } else {
          for (let i = 0; i < n; i++) {
            const got = queue.get(TIMEOUT);
            if (got.length !== 4 || littleEndian32(got) !== i) return i;
          }
        }
        return -1;
      }
      case "queue-b64": {
        const queue = queues.bytes as Queue<Uint8Array>;
        if (role === "a") {
          for (let i = 0; i < n; i++) {
            stampBlock(block64, i);
            queue.put(block64, TIMEOUT);
          }
        } else {
          for (let i = 0; i < n; i++) checkBlock(queue.get(TIMEOUT), 64, i);
        }
        return -1;
      }
      case "queue-json": {
        const queue = queues.json;
        if (role === "a") {
          for (let i = 0; i < n; i++) queue.put({ id: i, name: "ticket", ok: true }, TIMEOUT);
        } else {
          for (let i = 0; i < n; i++) checkValue("json", queue.get(TIMEOUT), i);
        }
        return -1;
      }
      case "ring-pingpong": {
        const [ping, pong] = [rings.ping, rings.pong];
        if (role === "a") {
          for (let i = 0; i < n; i++) {
            sent(ping.pushNumber(i, TIMEOUT));
            if (must(pong.popNumber(TIMEOUT), "pop") !== i) return i;
          }
        } else {
          for (let i = 0; i < n; i++) {
            sent(pong.pushNumber(must(ping.popNumber(TIMEOUT), "pop"), TIMEOUT));
          }
        }
        return -1;
      }
      case "queue-pingpong": {
        const [ping, pong] = [queues.ping as Queue<number>, queues.pong as Queue<number>];
        if (role === "a") {
          for (let i = 0; i < n; i++) {
            ping.put(i, TIMEOUT);
            if (pong.get(TIMEOUT) !== i) return i;
          }
        } else {
          for (let i = 0; i < n; i++) pong.put(ping.get(TIMEOUT), TIMEOUT);
        }
        return -1;
      }
      case "ring-batch1": {
        const ring = rings.elements;
        if (role === "a") {
          for (let i = 0; i < n; i++) sent(ring.pushNumber(i, TIMEOUT));
        } else {
          for (let i = 0; i < n; i++) if (must(ring.popNumber(TIMEOUT), "pop") !== i) return i;
        }
        return -1;
      }
      case "ring-batch64": {
        const ring = rings.elements;
        if (role === "a") {
          for (let next = 0; next < n; next += 64) {
            const length = Math.min(64, n - next);
            for (let k = 0; k < length; k++) chunk[k] = next + k;
            const sent = ring.pushNumbers(
              length === 64 ? chunk : chunk.subarray(0, length),
              TIMEOUT,
            );
            if (sent !== length) throw new Stall("pushNumbers timed out");
          }
        } else {
          for (let next = 0; next < n;) {
            const got = ring.popNumbers(chunk, TIMEOUT);
            if (got === 0) throw new Stall("popNumbers timed out");
            for (let k = 0; k < got; k++) if (chunk[k] !== next + k) return next + k;
            next += got;
          }
        }
        return -1;
      }
      case "ring-b64k": {
        const ends = ringEnds(rings.big);
        return oneWay(ends.push, ends.pop, "b64k", n);
      }
      case "queue-b64k": {
        const ends = queueEnds(queues.big as Queue<Uint8Array>);
        return oneWay(ends.push, ends.pop, "b64k", n);
      }
      case "ring-rtt-b64":
      case "ring-rtt-json":
      case "ring-rtt-b64k":
        return roundTrip(
          ringEnds(rings.bigPing),
          ringEnds(rings.bigPong),
          name.slice("ring-rtt-".length) as Workload,
          n,
        );
      case "queue-rtt-b64":
      case "queue-rtt-json":
      case "queue-rtt-b64k":
        return roundTrip(
          queueEnds(queues.bigPing as Queue<Uint8Array>),
          queueEnds(queues.bigPong as Queue<Uint8Array>),
          name.slice("queue-rtt-".length) as Workload,
          n,
        );
      case "ring-poll1": {
        // ringbuf.js's own loop: non-blocking calls, busy-polling (bounded by a deadline).
        const ring = rings.elements;
        const deadline = performance.now() + TIMEOUT.timeout;
        let spins = 0;
        if (role === "a") {
          for (let i = 0; i < n; i++) {
            while (!ring.tryPushNumber(i)) {
              if (++spins % 1_000_000 === 0 && performance.now() > deadline) {
                throw new Stall("push");
              }
            }
          }
        } else {
          for (let i = 0; i < n; i++) {
            let value = ring.tryPopNumber();
            while (value === undefined) {
              if (++spins % 1_000_000 === 0 && performance.now() > deadline) throw new Stall("pop");
              value = ring.tryPopNumber();
            }
            if (value !== i) return i;
          }
        }
        return -1;
      }
      case "ring-poll64": {
        const ring = rings.elements;
        const deadline = performance.now() + TIMEOUT.timeout;
        let spins = 0;
        if (role === "a") {
          for (let next = 0; next < n;) {
            const length = Math.min(64, n - next);
            for (let k = 0; k < length; k++) chunk[k] = next + k;
            const batch = length === 64 ? chunk : chunk.subarray(0, length);
            // Like ringbuf.js's push, tryPushNumbers may take a prefix: push the rest after it.
            for (let sent = 0; sent < length;) {
              const pushed = ring.tryPushNumbers(sent === 0 ? batch : batch.subarray(sent));
              sent += pushed;
              if (pushed === 0 && ++spins % 1_000_000 === 0 && performance.now() > deadline) {
                throw new Stall("push");
              }
            }
            next += length;
          }
        } else {
          for (let next = 0; next < n;) {
            const got = ring.tryPopNumbers(chunk);
            if (got === 0) {
              if (++spins % 1_000_000 === 0 && performance.now() > deadline) throw new Stall("pop");
              continue;
            }
            for (let k = 0; k < got; k++) if (chunk[k] !== next + k) return next + k;
            next += got;
          }
        }
        return -1;
      }
    }
  };

  let generation = 0;
  for (;;) {
    Atomics.wait(control, QB.GO, generation);
    generation = Atomics.load(control, QB.GO);
    if (generation < 0) break;
    const name = CASES[Atomics.load(control, QB.CASE)];
    const n = Atomics.load(control, QB.COUNT);
    let bad = -1;
    try {
      bad = run(name, n);
    } catch (error) {
      console.error(`queues bench worker ${role} (${name}):`, error);
      bad = 0x7ffffffe;
    }
    if (bad >= 0) Atomics.store(control, QB.ERROR, Math.min(bad, 0x7ffffffe) + 1);
    Atomics.add(control, QB.DONE, 1);
    Atomics.notify(control, QB.DONE);
  }
  self.close();
};
