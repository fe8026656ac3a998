/// <reference lib="deno.worker" />
/**
 * Worker of the plain postMessage pool in `bench/peers/pool.bench.ts`: one
 * message per task `{ id, kind, x }`, one message per result `{ id, value }`.
 *
 * @module
 */

import task from "./_piscina_task.mjs";

self.onmessage = (event: MessageEvent) => {
  const { id, kind, x } = event.data as { id: number; kind: string; x: number };
  self.postMessage({ id, value: task({ kind, x }) });
};
