/**
 * Who "the current thread" is, as a lock owner.
 *
 * Locks record their owner in the lock word, so a `RecursiveMutex` can
 * recognise re-entry, a `Condition` can check that its lock is held, and a
 * robust mutex can tell that its owner died. An owner id is a 30-bit non-zero
 * integer, one per thread (per worker, per process main thread): the
 * ownership unit of this module is the thread, not the async task (two async
 * tasks of one worker are the same owner).
 *
 * By default each thread draws a random id the first time it needs one, with
 * {@linkcode MANAGED_OWNER_BIT} clear (the chance that two of 100 threads
 * draw the same is about 1 in 100 000). The worker handles and pools of this
 * module assign unique ids instead, with {@linkcode MANAGED_OWNER_BIT} set,
 * from a counter shared by the whole program (`shm/liveness.ts`); only those
 * ids have a liveness record, so only their death can be detected.
 *
 * @module
 */

/** Bits an owner id may use: 30, leaving the two top bits of a lock word for flags. */
export const OWNER_MASK = 0x3fffffff;

/**
 * Set in ids assigned by the program-wide liveness table (threads started by
 * this module's worker handles); clear in randomly drawn ids.
 */
export const MANAGED_OWNER_BIT = 0x20000000;

/** Bits a randomly drawn id may use. */
const RANDOM_MASK = OWNER_MASK & ~MANAGED_OWNER_BIT;

let current = 0;

/** The calling thread's owner id (non-zero, at most {@linkcode OWNER_MASK}). */
export function currentOwnerId(): number {
  if (current === 0) {
    const random = new Uint32Array(1);
    do {
      crypto.getRandomValues(random);
      current = random[0] & RANDOM_MASK;
    } while (current === 0);
  }
  return current;
}

/**
 * Sets the calling thread's owner id. Called once by this module's worker and
 * process handles at start-up, before any lock is taken.
 */
export function setCurrentOwnerId(id: number): void {
  if (!Number.isInteger(id) || id <= 0 || id > OWNER_MASK) {
    throw new RangeError(`Owner id must be an integer in [1, ${OWNER_MASK}]: received ${id}`);
  }
  current = id;
}
