/**
 * Pipe and RingBuffer scenarios for the schedule explorer: every message
 * arrives once, whole and in order (also when it is longer than the ring and
 * travels in chunks); a closed end is seen by the peer after the messages
 * sent before the close; blocked sends and receives are always woken.
 */
import { PipeClosedError } from "../../../primitives/errors.ts";
import { Pipe, PipeEnd, type PipeEndHandle } from "../../../primitives/pipe.ts";
import { RingBuffer, type RingBufferHandle } from "../../../primitives/ring_buffer.ts";
import { checkingAllocator } from "../../../shm/checking/checking_memory.ts";
import type { Scenario } from "../../../shm/checking/controller.ts";

const allocate = checkingAllocator;

/** Message `i`: `length` bytes all equal to `i + 1`. */
function message(i: number, length: number): Uint8Array {
  return new Uint8Array(length).fill(i + 1);
}

/** Checks a received message is whole: the right length, one repeated byte. */
function decode(bytes: Uint8Array, length: number): number {
  if (bytes.length !== length || bytes.some((b) => b !== bytes[0])) {
    throw new Error(`torn message: ${Array.from(bytes).join(",")}`);
  }
  return bytes[0] - 1;
}

interface PipeState {
  a: PipeEndHandle;
  b: PipeEndHandle;
  messages: number;
  length: number;
}

/** End A: sends every message, then receives every echo. */
export function pipeSender(state: PipeState): number[] {
  const end = PipeEnd.from<Uint8Array>(state.a);
  for (let i = 0; i < state.messages; i++) end.sendBytes(message(i, state.length));
  const echoes: number[] = [];
  for (let i = 0; i < state.messages; i++) echoes.push(decode(end.recvBytes(), state.length));
  return echoes;
}

/** End B: receives every message and echoes it back. */
export function pipeEcho(state: PipeState): number[] {
  const end = PipeEnd.from<Uint8Array>(state.b);
  const got: number[] = [];
  for (let i = 0; i < state.messages; i++) {
    const bytes = end.recvBytes();
    got.push(decode(bytes, state.length));
    end.sendBytes(bytes);
  }
  return got;
}

/**
 * A duplex pipe with a `capacity`-byte ring each way: `messages` messages of
 * `length` bytes there and back (longer than the ring: sent in chunks).
 */
export function pipeEchoScenario(
  messages: number,
  length: number,
  capacity: number,
): Scenario<PipeState> {
  return {
    name: `Pipe(${capacity} B) echo ${messages} x ${length} B`,
    module: import.meta.url,
    threads: ["pipeSender", "pipeEcho"],
    setup: () => {
      const [a, b] = Pipe<Uint8Array>({ allocate, capacity, codec: "bytes" });
      return { a: a.handle, b: b.handle, messages, length };
    },
    check: (_state, results) => {
      const expected = Array.from({ length: messages }, (_, i) => i).join();
      for (const got of results as number[][]) {
        if (got.join() !== expected) throw new Error(`received ${got.join()}`);
      }
    },
  };
}

/** Sends every message, then closes its end. */
export function pipeSendAndClose(state: PipeState): number {
  const end = PipeEnd.from<Uint8Array>(state.a);
  for (let i = 0; i < state.messages; i++) end.sendBytes(message(i, state.length));
  end.close();
  return state.messages;
}

/** Receives until the peer's close is seen. */
export function pipeDrain(state: PipeState): number[] {
  const end = PipeEnd.from<Uint8Array>(state.b);
  const got: number[] = [];
  for (;;) {
    try {
      got.push(decode(end.recvBytes(), state.length));
    } catch (err) {
      if (err instanceof PipeClosedError) return got;
      throw err;
    }
  }
}

/** The sender closes after its messages: the reader gets them all, then the close. */
export function pipeCloseScenario(messages: number, length: number): Scenario<PipeState> {
  return {
    name: `Pipe close after ${messages} x ${length} B`,
    module: import.meta.url,
    threads: ["pipeSendAndClose", "pipeDrain"],
    setup: () => {
      const [a, b] = Pipe<Uint8Array>({ allocate, capacity: 16, codec: "bytes" });
      return { a: a.handle, b: b.handle, messages, length };
    },
    check: (_state, results) => {
      const got = results[1] as number[];
      if (got.join() !== Array.from({ length: messages }, (_, i) => i).join()) {
        throw new Error(`received ${got.join()}`);
      }
    },
  };
}

interface RingState {
  ring: RingBufferHandle;
  messages: number;
}

/** Pushes messages of varying length (1..7 bytes), blocking when full. */
export function ringPusher(state: RingState): number {
  const ring = RingBuffer.from(state.ring);
  for (let i = 0; i < state.messages; i++) ring.push(message(i, 1 + (i * 3) % 7));
  ring.pushNumber(-1);
  return state.messages;
}

/** Pops until the final number. */
export function ringPopper(state: RingState): number[] {
  const ring = RingBuffer.from(state.ring);
  const got: number[] = [];
  for (let i = 0; i < state.messages; i++) {
    got.push(decode(ring.pop()!, 1 + (i * 3) % 7));
  }
  if (ring.popNumber() !== -1) throw new Error("final number lost");
  return got;
}

/** A 16-byte ring: wrap-around, full and empty waits on both sides. */
export function ringScenarioReal(messages: number): Scenario<RingState> {
  return {
    name: `RingBuffer(16 B) ${messages} messages + a number`,
    module: import.meta.url,
    threads: ["ringPusher", "ringPopper"],
    setup: () => ({ ring: new RingBuffer(16, { allocate }).handle, messages }),
    check: (_state, results) => {
      const got = results[1] as number[];
      if (got.join() !== Array.from({ length: messages }, (_, i) => i).join()) {
        throw new Error(`received ${got.join()}`);
      }
    },
  };
}
