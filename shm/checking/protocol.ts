/**
 * The control block shared by the schedule controller (main thread) and the
 * simulated threads (workers) of the checking memory.
 *
 * One `SharedArrayBuffer` holds a virtual clock and one slot per simulated
 * thread. A thread announces each memory operation in its slot and sleeps
 * until the controller grants it; the controller grants exactly one thread
 * at a time, so every operation runs alone, in the order the schedule picks.
 *
 * Slot state machine (cell `S_STATE`), writer in brackets:
 *
 * ```
 * IDLE --[controller: command]--> START --[thread: first op]--> ANNOUNCED
 * ANNOUNCED --[controller: grant]--> GRANTED --[thread: next op]--> ANNOUNCED
 * START | GRANTED --[thread: function returned/threw]--> FINISHED
 * FINISHED --[controller]--> IDLE (or START of the next schedule)
 * ```
 *
 * Every transition is an atomic store followed by a notify on the same cell,
 * and each side sleeps only while the cell holds the value it last saw, so
 * no hand-off is lost.
 *
 * @module
 */

/** Most simulated threads one pool can run. */
export const MAX_THREADS = 8;

/** Cells of one thread's slot. */
export const SLOT_CELLS = 16;
/** First cell of slot 0 (cells 0..3 hold the virtual clock, a float64). */
export const SLOT_BASE = 16;

/** Slot cells (offsets inside a slot). */
export const S_STATE = 0;
/** The announced operation (an `Op`). */
export const S_OP = 1;
/** The announced operation's absolute cell (heap cell index) or byte offset. */
export const S_ARG0 = 2;
/** The announced operation's value (expected value of a wait, count of a notify). */
export const S_ARG1 = 3;
/** The grant: `GRANT_GO` or `GRANT_ABORT`. */
export const S_GRANT = 4;
/** The grant's result (wait outcome, number of threads a notify woke). */
export const S_RESULT = 5;
/** How the thread's function ended (a `Finish`). */
export const S_FINISH = 6;
/** Byte length of the JSON text in the thread's text area. */
export const S_TEXT_LENGTH = 7;
/** Index of the slot's float64 (timeout of an announced wait), in float64 units. */
export function timeoutIndex(thread: number): number {
  return (SLOT_BASE + thread * SLOT_CELLS + 8) / 2;
}

/** Float64 index of the virtual clock (milliseconds). */
export const CLOCK_INDEX = 0;

/** Slot states. */
export const IDLE = 0;
/** A command is in the text area: run it. */
export const START = 1;
/** An operation is announced; the thread sleeps until granted. */
export const ANNOUNCED = 2;
/** The announced operation may run. */
export const GRANTED = 3;
/** The thread's function ended; its result is in the text area. */
export const FINISHED = 4;
/** The worker must exit. */
export const QUIT = 5;

/** Grants. */
export const GRANT_GO = 1;
/** The schedule is over (deadlock, failure elsewhere): unwind. */
export const GRANT_ABORT = 2;

/** Wait results as numbers. */
export const WAIT_OK = 0;
/** The cell did not hold the expected value. */
export const WAIT_NOT_EQUAL = 1;
/** The (virtual) timeout elapsed. */
export const WAIT_TIMED_OUT = 2;

/** How a thread's function ended. */
export const FINISH_RETURNED = 1;
/** It threw (the text area holds the error). */
export const FINISH_THREW = 2;
/** It was unwound by an abort. */
export const FINISH_ABORTED = 3;

/** Operations a simulated thread announces. */
export const OP_NAMES = [
  "start",
  "load",
  "store",
  "add",
  "exchange",
  "cas",
  "wait",
  "notify",
  "readBytes",
  "writeBytes",
  "viewBytes",
] as const;
/** An operation code (index in {@linkcode OP_NAMES}). */
export type Op = number;
/** Operation codes. */
export const OP_LOAD = 1;
/** Store. */
export const OP_STORE = 2;
/** Add. */
export const OP_ADD = 3;
/** Exchange. */
export const OP_EXCHANGE = 4;
/** Compare-exchange. */
export const OP_CAS = 5;
/** Wait. */
export const OP_WAIT = 6;
/** Notify. */
export const OP_NOTIFY = 7;
/** Byte read. */
export const OP_READ_BYTES = 8;
/** Byte write. */
export const OP_WRITE_BYTES = 9;
/** Byte view (a copy). */
export const OP_VIEW_BYTES = 10;

/** Bytes of each thread's text area (commands in, results out, as JSON). */
export const TEXT_BYTES = 64 * 1024;
/** Byte offset of thread 0's text area. */
export const TEXT_BASE = (SLOT_BASE + MAX_THREADS * SLOT_CELLS) * 4;
/** Total size of the control buffer. */
export const CONTROL_BYTES = TEXT_BASE + MAX_THREADS * TEXT_BYTES;

/** First cell of a thread's slot. */
export function slotBase(thread: number): number {
  return SLOT_BASE + thread * SLOT_CELLS;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Writes `value` as JSON into a thread's text area. */
export function writeText(control: SharedArrayBuffer, thread: number, value: unknown): void {
  const cells = new Int32Array(control);
  let bytes = encoder.encode(JSON.stringify(value ?? null) ?? "null");
  if (bytes.length > TEXT_BYTES) {
    bytes = encoder.encode(
      JSON.stringify({ truncated: true, note: `value of ${bytes.length} bytes truncated` }),
    );
  }
  new Uint8Array(control, TEXT_BASE + thread * TEXT_BYTES, bytes.length).set(bytes);
  Atomics.store(cells, slotBase(thread) + S_TEXT_LENGTH, bytes.length);
}

/** Reads the JSON value in a thread's text area. */
export function readText(control: SharedArrayBuffer, thread: number): unknown {
  const cells = new Int32Array(control);
  const length = Atomics.load(cells, slotBase(thread) + S_TEXT_LENGTH);
  const bytes = new Uint8Array(control, TEXT_BASE + thread * TEXT_BYTES, length).slice();
  return JSON.parse(decoder.decode(bytes));
}
