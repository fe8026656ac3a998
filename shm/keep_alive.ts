/**
 * Keeps the event loop alive while async waits are pending.
 *
 * A pending `Atomics.waitAsync` does not keep Deno's (or Node's) event loop
 * alive (denoland/deno#15358): a program whose only pending work is such a
 * wait exits with "Top-level await promise never resolved", or silently drops
 * the continuation. Every async wait of this module therefore holds one
 * reference here while it is pending. One ref'd interval serves all of them;
 * it exists exactly while the reference count is above zero, so an idle
 * program (and a test with the ops sanitizer on) sees no timer.
 *
 * @module
 */

let references = 0;
let interval: ReturnType<typeof setInterval> | undefined;

/**
 * Takes a reference on the event loop; call the returned function exactly
 * once to give it back.
 */
export function holdEventLoop(): () => void {
  if (references++ === 0) {
    // The period is irrelevant: the interval exists only to be ref'd.
    interval = setInterval(() => {}, 1 << 30);
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--references === 0) {
      clearInterval(interval);
      interval = undefined;
    }
  };
}
