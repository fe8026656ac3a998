/**
 * Shared-memory concurrency primitives for Deno: what Python's
 * `multiprocessing` and `threading` give Python programs, on
 * `SharedArrayBuffer` across workers.
 *
 * Every primitive is created in one thread, posted to workers as a plain
 * handle (`primitive.handle`), and revived there with `Kind.from(handle)`.
 * Blocking calls (`lock()`, `wait()`...) are for workers; the `...Async`
 * forms never block the event loop and are for the main thread. Every wait
 * takes a `timeout` in milliseconds, and async waits take an `AbortSignal`.
 *
 * @example A mutex shared with a worker
 * ```ts
 * import { Mutex } from "@concur/shm";
 *
 * const mutex = new Mutex();
 * // new Worker(url, { type: "module" }).postMessage(mutex.handle);
 * // worker: const mutex = Mutex.from(event.data); mutex.withLock(() => { ... });
 * await mutex.withLockAsync(() => console.log("held"));
 * ```
 *
 * @module
 */

export * from "./primitives/errors.ts";
export type { LockGuard } from "./primitives/lock_guard.ts";
export { Mutex, type MutexHandle } from "./primitives/mutex.ts";
export type {
  CreateOptions,
  KindName,
  MemoryAllocator,
  PrimitiveHandle,
} from "./primitives/_header.ts";
export type { Memory, MemoryHandle, WaitResult } from "./shm/memory.ts";
export { SabMemory } from "./shm/sab_memory.ts";
export type { AsyncWaitOptions, WaitOptions } from "./shm/timeout.ts";
export { RecursiveMutex, type RecursiveMutexHandle } from "./primitives/recursive_mutex.ts";
export { Semaphore, type SemaphoreHandle, type SemaphoreOptions } from "./primitives/semaphore.ts";
export { Event, type EventHandle } from "./primitives/event.ts";
export { Condition, type ConditionHandle, type ConditionOptions } from "./primitives/condition.ts";
export {
  Barrier,
  type BarrierHandle,
  type BarrierLocalOptions,
  type BarrierOptions,
} from "./primitives/barrier.ts";
export {
  SharedArray,
  type SharedArrayHandle,
  SharedValue,
  type SharedValueHandle,
  type SharedValueOptions,
  type SharedValueType,
} from "./primitives/shared_value.ts";
export type { AnyLock, AnyLockHandle } from "./primitives/_any_lock.ts";
export {
  isMainThread,
  KILLED_EXIT_CODE,
  TERMINATE_GRACE_MS,
  TERMINATED_EXIT_CODE,
  type WorkerInfo,
  workerInfo,
  WorkerProcess,
  type WorkerProcessOptions,
} from "./workers/worker_process.ts";
export { type ApplyAsyncOptions, AsyncResult, Pool, type PoolOptions } from "./workers/pool.ts";
export { registerRevivable, type Reviver } from "./workers/revive.ts";
export { RingBuffer, type RingBufferHandle } from "./primitives/ring_buffer.ts";
export {
  Queue,
  type QueueAttachOptions,
  type QueueHandle,
  type QueueOptions,
} from "./primitives/queue.ts";
export { JoinableQueue, type JoinableQueueHandle } from "./primitives/joinable_queue.ts";
export { Pipe, PipeEnd, type PipeEndHandle, type PipeOptions } from "./primitives/pipe.ts";
export { type Codec, type CodecName, createCodec } from "./shm/codec.ts";
