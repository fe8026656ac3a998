/**
 * Child process: blocks in `lock()` (the holder is killed meanwhile); exits
 * 0 if it got the lock and was told that the previous owner died.
 */
import type { Mutex } from "../../primitives/mutex.ts";
import { processArgs } from "../../workers/process_handle.ts";

const [mutex] = processArgs() as [Mutex];
if (!mutex.lock({ timeout: 20_000 })) Deno.exit(3);
const died = mutex.ownerDied;
mutex.markConsistent();
mutex.unlock();
Deno.exit(died ? 0 : 5);
