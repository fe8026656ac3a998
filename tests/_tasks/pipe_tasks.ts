/** Functions run inside workers by tests/pipe_test.ts. */
import { PipeEnd, type PipeEndHandle } from "../../primitives/pipe.ts";
import { PipeClosedError } from "../../primitives/errors.ts";
// The worker side of WorkerProcess (sendFilled runs in one).
import "../../workers/worker_process.ts";

/** Receives until end of stream; returns what it got. */
export function drain(handle: PipeEndHandle): unknown[] {
  const end = PipeEnd.from(handle);
  const got: unknown[] = [];
  for (;;) {
    try {
      got.push(end.recv({ timeout: 10_000 }));
    } catch (err) {
      if (err instanceof PipeClosedError) return got;
      throw err;
    }
  }
}

/** Sends each value, then closes its end. */
export function sendAll(handle: PipeEndHandle, values: unknown[]): number {
  const end = PipeEnd.from(handle);
  for (const value of values) end.send(value);
  end.close();
  return values.length;
}

/** Echoes `n` messages back (recv then send); returns n. */
export function echo(handle: PipeEndHandle, n: number): number {
  const end = PipeEnd.from(handle);
  for (let i = 0; i < n; i++) end.sendBytes(end.recvBytes({ timeout: 10_000 }));
  return n;
}

/** Receives one message as bytes and returns its length and a checksum. */
export function recvChecksum(handle: PipeEndHandle): [number, number] {
  const end = PipeEnd.from(handle);
  const bytes = end.recvBytes({ timeout: 30_000 });
  let sum = 0;
  for (let i = 0; i < bytes.length; i++) sum = (sum * 31 + bytes[i]) >>> 0;
  return [bytes.length, sum];
}

/** Sends `count` seeded byte messages of varied sizes; closes its end. */
export function sendSized(handle: PipeEndHandle, count: number): number {
  const end = PipeEnd.from(handle);
  for (let i = 0; i < count; i++) {
    const bytes = new Uint8Array((i * 37) % 700);
    bytes.fill(i & 0xff);
    end.sendBytes(bytes);
  }
  end.close();
  return count;
}

/**
 * Sends one message of `length` bytes, all `fill` (run by a WorkerProcess:
 * the end arrives revived).
 */
export function sendFilled(end: PipeEnd, length: number, fill: number): void {
  end.sendBytes(new Uint8Array(length).fill(fill));
}

/** Sends `length` bytes with a timeout; returns the error's name ("ok" if none) and the time taken. */
export function sendTimed(
  handle: PipeEndHandle,
  length: number,
  timeout: number,
): [string, number] {
  const end = PipeEnd.from(handle);
  const start = performance.now();
  try {
    end.sendBytes(new Uint8Array(length), 0, length, { timeout });
    return ["ok", performance.now() - start];
  } catch (err) {
    return [(err as Error).name, performance.now() - start];
  }
}
