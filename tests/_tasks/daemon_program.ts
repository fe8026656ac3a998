/**
 * A main program with one daemon worker that never ends and one non-daemon
 * worker that ends after a short sleep (run by tests/workers_program_test.ts).
 * Expected: "main done", then "non-daemon done", then the program exits on its
 * own (the daemon does not keep it alive).
 */
import { Event } from "../../primitives/event.ts";
import { isMainThread, WorkerProcess } from "../../workers/worker_process.ts";

/** Waits forever (a daemon). */
export function forever(never: Event): void {
  never.wait();
}

/** Sleeps, then reports. */
export async function slow(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
  console.log("non-daemon done");
}

if (isMainThread()) {
  const daemon = new WorkerProcess({
    module: import.meta.url,
    fn: "forever",
    args: [new Event()],
    daemon: true,
  });
  daemon.start();
  new WorkerProcess({ module: import.meta.url, fn: "slow", args: [300] }).start();
  console.log("main done");
}
