/**
 * The per-thread interrupt that makes `WorkerProcess.terminate()` and
 * `Pool.terminate()` cooperative.
 *
 * `Worker.terminate()` cannot stop a thread blocked in `Atomics.wait` (Deno
 * 2.9: the thread resumes and runs JavaScript after the next notify). So a
 * thread started by this module's handles gets one interrupt cell in shared
 * memory, owned by its handle. `terminate()` stores 1 there and notifies it.
 * Then:
 *
 * - every synchronous wait of this module (`Memory.wait`) in that thread is
 *   sliced into waits of at most {@linkcode INTERRUPT_SLICE_MS} that check
 *   the cell, and throws `TerminatedError` once it is set;
 * - every asynchronous wait (`Memory.waitAsync`) also listens to
 *   {@linkcode interruptSignal}, which a watcher (an async wait on the
 *   interrupt cell itself) aborts with a `TerminatedError` at once.
 *
 * The error unwinds the task: `using` guards and `finally` blocks run, and
 * the worker reports its end. What this cannot stop: code that never waits
 * through this module (a hot loop, a `setTimeout` sleep, a pending fetch).
 * The handle forcibly terminates such a worker after a grace period; a
 * thread spinning in JavaScript may keep running after that (an engine
 * limit), which is documented on `terminate()`.
 *
 * Threads without an installed interrupt (the main thread, workers not
 * started by this module) wait exactly as before: one unsliced wait.
 *
 * @module
 */

import { TerminatedError } from "../primitives/errors.ts";
import type { Memory } from "./memory.ts";

/** Longest uninterrupted sleep of a synchronous wait in an interruptible thread. */
export const INTERRUPT_SLICE_MS = 50;

let interruptMemory: Memory | undefined;
let interruptCell = 0;
let controller: AbortController | undefined;
let stopWatching: AbortController | undefined;

/**
 * Makes the calling thread interruptible through `memory[cell]` (non-zero:
 * terminate requested). Called once by the worker runtime at start-up.
 */
export function installInterrupt(memory: Memory, cell: number): void {
  interruptMemory = memory;
  interruptCell = cell;
  controller = new AbortController();
  stopWatching = new AbortController();
  void watch(memory, cell, controller, stopWatching.signal);
}

async function watch(
  memory: Memory,
  cell: number,
  target: AbortController,
  stop: AbortSignal,
): Promise<void> {
  try {
    while (memory.load(cell) === 0) {
      // The watcher's own wait must not listen to the signal it is about to abort.
      await memory.waitAsync(cell, 0, Infinity, stop);
    }
    target.abort(terminatedError());
  } catch {
    // Stopped: the task ended first.
  }
}

/** Stops watching (the task has ended); the thread stays interruptible for sync waits. */
export function stopInterruptWatcher(): void {
  stopWatching?.abort();
}

/** Whether the calling thread has an interrupt cell (its waits are sliced). */
export function isInterruptible(): boolean {
  return interruptMemory !== undefined;
}

/** Whether termination of the calling thread has been requested. */
export function interruptRequested(): boolean {
  return interruptMemory !== undefined && interruptMemory.load(interruptCell) !== 0;
}

/** Throws `TerminatedError` if termination of the calling thread has been requested. */
export function throwIfInterrupted(): void {
  if (interruptRequested()) throw terminatedError();
}

/**
 * A signal aborted (with a `TerminatedError`) when termination of this
 * thread is requested, or `undefined` in threads that cannot be interrupted.
 */
export function interruptSignal(): AbortSignal | undefined {
  return controller?.signal;
}

function terminatedError(): TerminatedError {
  return new TerminatedError("Cannot wait: this worker was asked to terminate");
}
