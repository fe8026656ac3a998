/** Functions run inside workers by tests/pipe_test.ts. */
import { PipeEnd, type PipeEndHandle } from "../../primitives/pipe.ts";
import { PipeClosedError } from "../../primitives/errors.ts";

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
