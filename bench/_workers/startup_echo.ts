/// <reference lib="deno.worker" />
/** A web worker that answers at once (the start-up baseline of bench/pool.bench.ts). */
self.postMessage("up");
