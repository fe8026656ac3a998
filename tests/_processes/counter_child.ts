/**
 * Child process: `rounds` increments of a plain (non-atomic) counter, each
 * under the shared mutex: a load and a separate store, so any lost mutual
 * exclusion shows up as a wrong final count.
 */
import type { Mutex } from "../../primitives/mutex.ts";
import type { SharedValue } from "../../primitives/shared_value.ts";
import { processArgs } from "../../workers/process_handle.ts";

const [mutex, counter, rounds] = processArgs() as [Mutex, SharedValue, number];
for (let i = 0; i < rounds; i++) {
  mutex.lock();
  counter.store(counter.load() + 1);
  mutex.unlock();
}
