/** Helpers for tests that run real processes. */
import { closeShared, unlinkShared } from "../../shm/named.ts";
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
