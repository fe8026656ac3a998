/**
 * Child process: takes the mutex, signals `held`, then blocks (it is killed
 * with SIGKILL while holding the lock).
 */
import type { Event } from "../../primitives/event.ts";
import type { Mutex } from "../../primitives/mutex.ts";
import { processArgs } from "../../workers/process_handle.ts";

const [mutex, held] = processArgs() as [Mutex, Event];
if (!mutex.lock({ timeout: 20_000 })) Deno.exit(3);
held.set();
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
Deno.exit(4); // never reached in the test: the parent kills us first
