/**
 * Control block and case codes shared by `bench/queues.bench.ts` and its
 * worker.
 *
 * @module
 */

/** Cell indices (Int32) of the control block. */
export const QB = {
  /** Generation counter: bumped + notified to start an iteration; -1 stops. */
  GO: 0,
  /** Workers add 1 when done. */
  DONE: 1,
  /** Which case (see {@linkcode CASES}). */
  CASE: 2,
  /** Messages (or round trips) per iteration. */
  COUNT: 3,
  /** 0: fine; otherwise 1 + the first bad message index (capped). */
  ERROR: 4,
  /** Cells in the block. */
  SIZE: 16,
} as const;

/** The cases, by code. */
export const CASES = [
  "ring-int4",
  "ring-bytes4",
  "ring-b64",
  "ring-json",
  "queue-int4",
  "queue-bytes4",
  "queue-b64",
  "queue-json",
  "ring-pingpong",
  "queue-pingpong",
  "ring-batch1",
  "ring-batch64",
  "ring-poll1",
  "ring-poll64",
  "ring-b64k",
  "queue-b64k",
  "ring-rtt-b64",
  "ring-rtt-json",
  "ring-rtt-b64k",
  "queue-rtt-b64",
  "queue-rtt-json",
  "queue-rtt-b64k",
] as const;

/** One of {@linkcode CASES}. */
export type CaseName = typeof CASES[number];
