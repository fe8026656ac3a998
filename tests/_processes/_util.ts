/** Helpers for tests that run real processes. */
import { Queue } from "../../primitives/queue.ts";
import { FileMemory } from "../../shm/file_memory.ts";
import { closeShared, openShared, unlinkShared } from "../../shm/named.ts";
import type { ProcessHandle } from "../../workers/process_handle.ts";

/** A fresh, unique name for a shared object of one test. */
export function uniqueName(prefix: string): string {
  return `test-${prefix}-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
}

/** Kills every process still running and waits for it; closes and unlinks named objects. */
export async function cleanUp(
  processes: readonly ProcessHandle[],
  objects: readonly object[] = [],
  names: readonly string[] = [],
): Promise<void> {
  for (const child of processes) child.kill();
  await Promise.all(processes.map((child) => child.join()));
  for (const object of objects) closeShared(object);
  for (const name of names) unlinkShared(name);
}

/** Module URL of a child script in this folder. */
export function child(file: string): URL {
  return new URL(`./${file}`, import.meta.url);
}

/** Whether Queue runs its steps as file-memory batches (the lead's queue.ts hook). */
export function queueBatches(): boolean {
  // Patched before the queue exists: Queue binds its memory's batch once.
  const original = FileMemory.prototype.batch;
  let calls = 0;
  FileMemory.prototype.batch = function <T>(this: FileMemory, fn: () => T): T {
    calls++;
    return original.call(this, fn) as T;
  };
  const name = uniqueName("probe");
  try {
    const queue = openShared(
      Queue<number>,
      name,
      { backend: "file" },
      (allocate) => new Queue<number>(2, { codec: "number", maxMessageBytes: 8, allocate }),
    );
    try {
      queue.put(1);
    } finally {
      closeShared(queue);
    }
  } finally {
    FileMemory.prototype.batch = original;
    unlinkShared(name);
  }
  return calls > 0;
}
