/**
 * Cell indices of the control block shared by `bench/locks.bench.ts` and its
 * workers. Hot words sit on their own 64-byte cache lines (16 cells apart) so
 * that the go/done signalling does not disturb the lock being measured.
 *
 * @module
 */

/** Cell indices (Int32) of the lock bench's control block. */
export const LOCK = {
  /** Generation counter: bumped + notified by main to start an iteration; -1 stops. */
  GO: 0,
  /** Spin barrier: each worker adds 1 and waits for 2. */
  READY: 1,
  /** Workers add 1 when their batch is done (main waits for 2). */
  DONE: 2,
  /** 1: Mutex, 2: bare futex lock, 3: Atomics.add. */
  MODE: 3,
  /** Increments per worker per iteration. */
  BATCH: 4,
  /** The bare futex lock word (own cache line). */
  FUTEX: 16,
  /** The plain counter guarded by the lock, and the id of its last updater. */
  COUNTER: 32,
  LAST: 33,
  /** Per-worker handoff counts of the last iteration. */
  HANDOFFS: 48,
  /** The lock-free counter (own cache line). */
  ATOMIC: 64,
  /** Cells in the block. */
  SIZE: 80,
} as const;
