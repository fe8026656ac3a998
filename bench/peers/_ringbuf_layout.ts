/**
 * Cell indices of the control block of `bench/peers/ringbuf.bench.ts`.
 *
 * @module
 */

/** Cell indices (Int32). */
export const RB = {
  /** Generation counter: bumped + notified to start; -1 stops. */
  GO: 0,
  /** Workers add 1 when done. */
  DONE: 1,
  /** Elements per push/pop. */
  BATCH: 2,
  /** Elements per iteration. */
  COUNT: 3,
  /** 0: fine; 1: wrong value; 2/3: a side stalled for 30 s. */
  ERROR: 4,
  /** Cells in the block. */
  SIZE: 16,
} as const;
