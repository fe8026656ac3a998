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
 * By default each thread draws a random id the first time it needs one (the
 * chance that two of 100 threads draw the same is about 5 in a million). The
 * worker and process handles of this module assign unique ids instead, from
 * a counter shared by the whole program.
 *
 * @module
 */

/** Bits an owner id may use: 30, leaving the two top bits of a lock word for flags. */
export const OWNER_MASK = 0x3fffffff;

let current = 0;

/** The calling thread's owner id (non-zero, at most {@linkcode OWNER_MASK}). */
export function currentOwnerId(): number {
  if (current === 0) {
    const random = new Uint32Array(1);
    do {
      crypto.getRandomValues(random);
      current = random[0] & OWNER_MASK;
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
