/// <reference lib="deno.worker" />
/**
 * Worker side of `bench/peers/ringbuf.bench.ts`: ringbuf.js (npm) as
 * producer or consumer of `count` Int32 elements `0, 1, 2, ...`, moved
 * `batch` at a time. Both sides busy-spin (ringbuf.js has no blocking API).
 * The consumer checks every element's value and reports the first mismatch.
 *
 * @module
 */

// deno-lint-ignore no-import-prefix -- bench-only peer, kept out of deno.json's imports
import { RingBuffer } from "npm:ringbuf.js@0.4.0";
import { RB } from "./_ringbuf_layout.ts";

self.onmessage = (event: MessageEvent) => {
  const { role, storage, control } = event.data as {
    role: "producer" | "consumer";
    storage: SharedArrayBuffer;
    control: Int32Array;
  };
  const ring = new RingBuffer(storage, Int32Array);
  self.postMessage("ready");
  let generation = 0;
  for (;;) {
    Atomics.wait(control, RB.GO, generation);
    generation = Atomics.load(control, RB.GO);
    if (generation < 0) break;
    const batch = Atomics.load(control, RB.BATCH);
    const count = Atomics.load(control, RB.COUNT);
    const chunk = new Int32Array(batch);
    const deadline = performance.now() + 30_000;
    let spins = 0;
    let error = 0;
    if (role === "producer") {
      for (let next = 0; next < count;) {
        const length = Math.min(batch, count - next);
        for (let k = 0; k < length; k++) chunk[k] = next + k;
        let sent = 0;
        while (sent < length) {
          sent += ring.push(chunk, length - sent, sent);
          if (++spins % 1_000_000 === 0 && performance.now() > deadline) break;
        }
        if (sent < length) {
          error = 2; // consumer stalled
          break;
        }
        next += length;
      }
    } else {
      for (let next = 0; next < count;) {
        const got = ring.pop(chunk, Math.min(batch, count - next));
        if (got === 0) {
          if (++spins % 1_000_000 === 0 && performance.now() > deadline) {
            error = 3; // producer stalled
            break;
          }
          continue;
        }
        for (let k = 0; k < got; k++) {
          if (chunk[k] !== next + k) error ||= 1;
        }
        next += got;
      }
      Atomics.store(control, RB.ERROR, error);
    }
    if (error) Atomics.store(control, RB.ERROR, error);
    Atomics.add(control, RB.DONE, 1);
    Atomics.notify(control, RB.DONE);
  }
  self.close();
};
