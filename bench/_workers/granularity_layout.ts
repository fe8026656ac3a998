/**
 * Cell indices of the control block shared by `bench/granularity.bench.ts`
 * and its workers.
 *
 * @module
 */

/** Cell indices (Int32) of the granularity bench's control block. */
export const GRAN = {
  /** Generation counter: bumped + notified by main to start an iteration; -1 stops. */
  GO: 0,
  /** Spin barrier: each worker adds 1 and waits for WORKERS. */
  READY: 1,
  /** Workers add 1 when done. */
  DONE: 2,
  /** 1 coarse, 2 per-op, 3 striped, 4 atomics, 5 ticket whole-task lock, 6 ticket purchase-only lock. */
  MODE: 3,
  /** Table operations per worker per iteration. */
  BATCH: 4,
  /** Workers taking part. */
  WORKERS: 5,
  /** Buckets in the table. */
  BUCKETS: 6,
  /** Rounds of private work per ticket purchase. */
  WORK: 7,
  /** Tickets on sale per iteration. */
  TICKETS: 8,
  /** Cells between buckets of the table: 16 (one 64-byte cache line each) or 1 (dense). */
  STRIDE: 9,
  /** Tickets left (guarded by the coarse lock; own cache line). */
  REMAINING: 16,
  /** Cells in the block. */
  SIZE: 32,
} as const;
