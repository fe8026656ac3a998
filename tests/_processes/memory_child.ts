/**
 * Child process for the memory tests. Args: [backend, path, action].
 * - "wake": waits until cell 1 is 1 (set by the parent), then stores 42 in
 *   cell 0 and notifies it: the parent is asleep in wait(0, 0).
 * - "add": 10,000 atomic adds of 1 to cell 2.
 */
import { FileMemory } from "../../shm/file_memory.ts";
import { MmapMemory } from "../../shm/mmap_memory.ts";

const [backend, path, action] = Deno.args;
const memory = backend === "mmap" ? MmapMemory.open(path) : FileMemory.open(path);
if (action === "wake") {
  while (memory.load(1) !== 1) memory.wait(1, 0, 1000);
  memory.store(0, 42);
  memory.notify(0);
} else if (action === "add") {
  for (let i = 0; i < 10_000; i++) memory.add(2, 1);
}
memory.close();
