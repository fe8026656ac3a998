/**
 * `@concur/shm/process`: the same primitives between separate Deno
 * processes. Their state lives in a file: memory-mapped (FFI `mmap` + the
 * futex syscall) on Linux when `--allow-ffi` is granted, or file-backed
 * (`flock` + positional reads and writes, portable) otherwise; the choice is
 * visible as `sharedInfo(obj).backend`.
 *
 * Objects are opened by name with {@linkcode openShared}, passed to child
 * processes started with {@linkcode startProcess}, and revived there with
 * {@linkcode processArgs}. This entry is separate from the main one so that a
 * program that only uses workers never loads libc through FFI.
 *
 * @example A queue shared with a child process
 * ```ts ignore
 * // parent.ts: deno run -R -W=/tmp --allow-run --allow-ffi parent.ts
 * import { Queue } from "@concur/shm";
 * import { openShared, startProcess, unlinkShared } from "@concur/shm/process";
 *
 * const jobs = openShared(Queue<number>, "jobs", {}, (allocate) =>
 *   new Queue<number>(1024, { codec: "number", allocate }));
 * const child = startProcess(new URL("./child.ts", import.meta.url), { args: [jobs] });
 * for (let i = 0; i < 1000; i++) jobs.put(i);
 * jobs.close();
 * await child.join();
 * unlinkShared("jobs");
 *
 * // child.ts
 * import type { Queue } from "@concur/shm";
 * import { processArgs } from "@concur/shm/process";
 * const [queue] = processArgs() as [Queue<number>];
 * for await (const job of queue) console.log(job);
 * ```
 *
 * @module
 */

export {
  type Batching,
  FileMemory,
  type FileMemoryOptions,
  releaseFileLeases,
  runBatch,
} from "./file_memory.ts";
export { MmapMemory } from "./mmap_memory.ts";
export {
  closeShared,
  type CreateMode,
  defaultBackend,
  defaultSharedDir,
  type FileMode,
  openShared,
  type OpenSharedOptions,
  type SharedInfo,
  sharedInfo,
  type SharedKind,
  sharedPath,
  unlinkShared,
} from "./named.ts";
export {
  collectDeadOwners,
  isProcessOwnerDead,
  PROCESS_OWNER_BIT,
  registerProcessOwner,
} from "./process_owner.ts";
export {
  type Permission,
  processArgs,
  ProcessHandle,
  type ProcessPermissions,
  startProcess,
  type StartProcessOptions,
} from "../workers/process_handle.ts";
