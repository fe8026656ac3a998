/**
 * Child process: runs one task of worker_lock_tasks.ts in a WorkerProcess
 * (its thread holds the named mutex), waits for that worker, then stays
 * alive until the parent kills it.
 */
import type { Event } from "../../primitives/event.ts";
import type { Mutex } from "../../primitives/mutex.ts";
import { processArgs } from "../../workers/process_handle.ts";
import { WorkerProcess } from "../../workers/worker_process.ts";

const [mutex, held, fn] = processArgs() as [Mutex, Event, string];
const worker = new WorkerProcess({
  module: new URL("./worker_lock_tasks.ts", import.meta.url),
  fn,
  args: [mutex, held],
});
worker.start();
await worker.joinAsync();
if (worker.exitCode !== 0) {
  console.error(`worker ${fn} failed:`, worker.error);
  Deno.exit(5);
}
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
Deno.exit(4); // never reached in the test: the parent kills us first
