/**
 * The errors this module throws. Every class sets `name` to its own name, so
 * `err.name` is stable across workers (where only name and message travel).
 *
 * Arguments that are simply out of range (a negative capacity, a message that
 * can never fit) are reported with the built-in `RangeError` and `TypeError`.
 *
 * @module
 */

/**
 * Base class of every error this module defines.
 *
 * @example Catching any error of this module
 * ```ts
 * import { ConcurrencyError, Mutex } from "@concur/shm";
 *
 * try {
 *   new Mutex().unlock();
 * } catch (err) {
 *   console.log(err instanceof ConcurrencyError); // true
 * }
 * ```
 */
export class ConcurrencyError extends Error {
  /**
   * Creates the error.
   *
   * @param message What went wrong.
   * @param options Standard error options (`cause`).
   */
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * Why a buffer or handle was refused; see {@linkcode LayoutError}.
 *
 * @example
 * ```ts
 * import { LayoutError, type LayoutProblem, Mutex, Semaphore } from "@concur/shm";
 *
 * let problem: LayoutProblem | undefined;
 * try {
 *   Mutex.from(new Semaphore().handle as never);
 * } catch (err) {
 *   if (err instanceof LayoutError) problem = err.problem;
 * }
 * console.log(problem); // "wrong-kind"
 * ```
 */
export type LayoutProblem =
  | "not-shared"
  | "misaligned"
  | "too-small"
  | "bad-magic"
  | "wrong-kind"
  | "wrong-version"
  | "bad-parameters";

/**
 * A buffer, handle or file does not hold what it claims: it is too small, not
 * shared, of another kind or layout version, or its stored parameters are not
 * the ones asked for. Nothing is reinterpreted: attaching simply fails.
 *
 * @example
 * ```ts
 * import { LayoutError, Mutex, Semaphore } from "@concur/shm";
 *
 * const sem = new Semaphore(1);
 * try {
 *   Mutex.from(sem.handle as never);
 * } catch (err) {
 *   console.log(err instanceof LayoutError, (err as LayoutError).problem); // true "wrong-kind"
 * }
 * ```
 */
export class LayoutError extends ConcurrencyError {
  /** Which check failed. */
  readonly problem: LayoutProblem;
  /**
   * Creates the error.
   *
   * @param problem Which check failed.
   * @param message A sentence naming the offending value.
   */
  constructor(problem: LayoutProblem, message: string) {
    super(message);
    this.problem = problem;
  }
}

/**
 * `unlock()` (or `release()`) was called on a lock that is not locked.
 *
 * @example
 * ```ts
 * import { LockNotHeldError, Mutex } from "@concur/shm";
 *
 * try {
 *   new Mutex().unlock();
 * } catch (err) {
 *   console.log(err instanceof LockNotHeldError); // true
 * }
 * ```
 */
export class LockNotHeldError extends ConcurrencyError {}

/**
 * The caller does not own the lock it tried to release or wait on (a
 * `RecursiveMutex` held by another thread, a `Condition` whose lock is not
 * held).
 *
 * @example
 * ```ts
 * import { NotOwnerError, RecursiveMutex } from "@concur/shm";
 *
 * try {
 *   new RecursiveMutex().unlock();
 * } catch (err) {
 *   console.log(err instanceof NotOwnerError); // true
 * }
 * ```
 */
export class NotOwnerError extends ConcurrencyError {}

/**
 * A bounded `Semaphore` was released past its initial value.
 *
 * @example
 * ```ts
 * import { Semaphore, SemaphoreOverflowError } from "@concur/shm";
 *
 * try {
 *   new Semaphore(1, { bounded: true }).release();
 * } catch (err) {
 *   console.log(err instanceof SemaphoreOverflowError); // true
 * }
 * ```
 */
export class SemaphoreOverflowError extends ConcurrencyError {}

/**
 * A `Barrier` was broken (by a timeout, `abort()`, `reset()` or a failing
 * action) while the caller waited on it, or before.
 *
 * @example
 * ```ts
 * import { Barrier, BrokenBarrierError } from "@concur/shm";
 *
 * const barrier = new Barrier(2);
 * barrier.abort();
 * try {
 *   barrier.wait();
 * } catch (err) {
 *   console.log(err instanceof BrokenBarrierError); // true
 * }
 * ```
 */
export class BrokenBarrierError extends ConcurrencyError {}

/**
 * A blocking operation did not complete within its timeout (for operations
 * that have no `false` result to report it with).
 *
 * @example
 * ```ts
 * import { TimeoutError } from "@concur/shm";
 *
 * const err = new TimeoutError("Cannot join: timed out after 5 ms");
 * console.log(err.name); // "TimeoutError"
 * ```
 */
export class TimeoutError extends ConcurrencyError {}

/**
 * The primitive was used after it was closed on this side.
 *
 * @example
 * ```ts
 * import { ClosedError } from "@concur/shm";
 *
 * console.log(new ClosedError("Cannot use: closed").name); // "ClosedError"
 * ```
 */
export class ClosedError extends ConcurrencyError {}

/**
 * `putNowait` (or a `put` whose timeout expired) found the queue full.
 * Python: `queue.Full`.
 *
 * @example
 * ```ts
 * import { QueueFullError } from "@concur/shm";
 *
 * console.log(new QueueFullError("Cannot put: the queue is full").name); // "QueueFullError"
 * ```
 */
export class QueueFullError extends ConcurrencyError {}

/**
 * `getNowait` (or a `get` whose timeout expired) found the queue empty.
 * Python: `queue.Empty`.
 *
 * @example
 * ```ts
 * import { QueueEmptyError } from "@concur/shm";
 *
 * console.log(new QueueEmptyError("Cannot get: the queue is empty").name); // "QueueEmptyError"
 * ```
 */
export class QueueEmptyError extends ConcurrencyError {}

/**
 * The queue was closed: `put` after `close()`, or `get` once a closed queue
 * has been drained. Blocked consumers wake with it instead of waiting forever.
 *
 * @example
 * ```ts
 * import { QueueClosedError } from "@concur/shm";
 *
 * console.log(new QueueClosedError("Cannot put: the queue is closed").name); // "QueueClosedError"
 * ```
 */
export class QueueClosedError extends ClosedError {}

/**
 * `taskDone()` was called more times than items were put (Python raises
 * `ValueError('task_done() called too many times')`).
 *
 * @example
 * ```ts
 * import { TaskDoneError } from "@concur/shm";
 *
 * console.log(new TaskDoneError("taskDone() called too many times").name); // "TaskDoneError"
 * ```
 */
export class TaskDoneError extends ConcurrencyError {}

/**
 * The other end of a `Pipe` is closed and nothing is left to read (Python's
 * `EOFError`), or this end is used after it was closed.
 *
 * @example
 * ```ts
 * import { PipeClosedError } from "@concur/shm";
 *
 * console.log(new PipeClosedError("Cannot recv: end of stream").name); // "PipeClosedError"
 * ```
 */
export class PipeClosedError extends ClosedError {}

/**
 * A message found in shared memory is malformed: a length or frame tag out of
 * range, or bytes its codec cannot decode. Nothing is returned in its place
 * (never a wrong value); the message is consumed.
 *
 * @example
 * ```ts
 * import { MessageCorruptError } from "@concur/shm";
 *
 * console.log(new MessageCorruptError("Cannot decode message: invalid JSON").name); // "MessageCorruptError"
 * ```
 */
export class MessageCorruptError extends ConcurrencyError {}

/**
 * The worker was asked to terminate (`WorkerProcess.terminate()`,
 * `Pool.terminate()`): every wait of this module in that worker throws it
 * within a bounded time, so the task unwinds and its `using` guards release.
 * Catching it does not cancel the termination.
 *
 * @example
 * ```ts
 * import { TerminatedError } from "@concur/shm";
 *
 * console.log(new TerminatedError("Worker terminated").name); // "TerminatedError"
 * ```
 */
export class TerminatedError extends ConcurrencyError {}

/**
 * An error thrown by a task in another worker, rebuilt here. `remoteName` is
 * the original error's `name` (`"RangeError"`...), `message` its message,
 * and `cause` an `Error` whose `stack` is the remote stack trace (Python's
 * `RemoteTraceback`).
 *
 * @example
 * ```ts
 * import { RemoteError } from "@concur/shm";
 *
 * const err = new RemoteError("RangeError", "bad size", "RangeError: bad size\n    at task");
 * console.log(err.remoteName, err.message); // "RangeError" "bad size"
 * ```
 */
export class RemoteError extends ConcurrencyError {
  /** The `name` of the error thrown in the worker. */
  readonly remoteName: string;
  /** The stack trace recorded in the worker ("" if there was none). */
  readonly remoteStack: string;
  /**
   * Creates the error.
   *
   * @param remoteName The remote error's `name`.
   * @param message The remote error's message.
   * @param remoteStack The remote stack trace.
   */
  constructor(remoteName: string, message: string, remoteStack: string = "") {
    const cause = new Error(`${remoteName}: ${message}`);
    cause.name = "RemoteTraceback";
    cause.stack = remoteStack || `${remoteName}: ${message}`;
    super(message, { cause });
    this.remoteName = remoteName;
    this.remoteStack = remoteStack;
  }
}

/**
 * The worker running a task died before the task finished (it crashed or
 * was terminated): the task's result is this error, never a pending promise.
 *
 * @example
 * ```ts
 * import { WorkerDiedError } from "@concur/shm";
 *
 * console.log(new WorkerDiedError("Worker 3 died during task 12").name); // "WorkerDiedError"
 * ```
 */
export class WorkerDiedError extends ConcurrencyError {}
