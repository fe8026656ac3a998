/**
 * Length-prefixed frames over a byte stream (pipe, Unix socket, TCP), used by
 * `bench/ipc/processes.bench.ts` and its child process.
 *
 * A frame is an 8-byte header (u32 LE tag, u32 LE payload length) and the
 * payload, written with one `write` call. Tags: `COMMAND` (payload: three u32:
 * mode, workload index, count), `DATA` (one message), `ACK` (payload: u32
 * count received, then an error text if a check failed).
 *
 * @module
 */

/** Frame tags. */
export const TAG = { COMMAND: 1, DATA: 2, ACK: 3 } as const;
/** Command modes: receive and acknowledge, or echo every message. */
export const MODE = { SINK: 1, ECHO: 2 } as const;

/** Reads up to `into.length` bytes; resolves with the count, or null at end of stream. */
export type ReadInto = (into: Uint8Array) => Promise<number | null>;
/** Writes all of `bytes`. */
export type WriteAll = (bytes: Uint8Array) => Promise<void>;

/** One frame: its tag and payload (a view valid until the next `next()`). */
export interface Frame {
  tag: number;
  payload: Uint8Array;
}

/** Parses frames out of a byte stream. */
export class FrameReader {
  #buffer = new Uint8Array(1 << 20);
  #start = 0;
  #end = 0;
  readonly #read: ReadInto;

  /** @param read Reads raw bytes from the stream. */
  constructor(read: ReadInto) {
    this.#read = read;
  }

  async #fill(needed: number): Promise<boolean> {
    while (this.#end - this.#start < needed) {
      if (this.#buffer.length - this.#start < needed) {
        this.#buffer.copyWithin(0, this.#start, this.#end);
        this.#end -= this.#start;
        this.#start = 0;
      }
      const count = await this.#read(this.#buffer.subarray(this.#end));
      if (count === null) return false;
      this.#end += count;
    }
    return true;
  }

  /** The next frame, or null when the stream ended cleanly between frames. */
  async next(): Promise<Frame | null> {
    if (!(await this.#fill(8))) {
      if (this.#end !== this.#start) throw new Error("stream ended inside a frame header");
      return null;
    }
    const view = new DataView(this.#buffer.buffer, this.#start, 8);
    const tag = view.getUint32(0, true);
    const length = view.getUint32(4, true);
    if (length > this.#buffer.length - 8) throw new Error(`frame of ${length} bytes is too large`);
    if (!(await this.#fill(8 + length))) throw new Error("stream ended inside a frame");
    const payload = this.#buffer.subarray(this.#start + 8, this.#start + 8 + length);
    this.#start += 8 + length;
    return { tag, payload };
  }
}

/** Builds a frame (header and payload in one buffer, for one write). */
export function frame(tag: number, payload: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(8 + payload.byteLength);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, tag, true);
  view.setUint32(4, payload.byteLength, true);
  bytes.set(payload, 8);
  return bytes;
}

/** A command frame. */
export function commandFrame(mode: number, workload: number, count: number): Uint8Array {
  const payload = new Uint8Array(12);
  const view = new DataView(payload.buffer);
  view.setUint32(0, mode, true);
  view.setUint32(4, workload, true);
  view.setUint32(8, count, true);
  return frame(TAG.COMMAND, payload);
}

/** Write-all over a `Deno.Conn`-like writer. */
export function writerOf(target: { write(bytes: Uint8Array): Promise<number> }): WriteAll {
  return async (bytes) => {
    let offset = 0;
    while (offset < bytes.byteLength) offset += await target.write(bytes.subarray(offset));
  };
}
