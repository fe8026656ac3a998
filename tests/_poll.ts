/** Polling helper for tests: waits (asynchronously) until a condition holds. */

/**
 * Resolves once `check()` is true, polling every `everyMs`; rejects after
 * `timeoutMs` with `what` in the message.
 */
export async function until(
  check: () => boolean,
  what: string,
  timeoutMs = 10_000,
  everyMs = 1,
): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > end) throw new Error(`Timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** Resolves after `ms` milliseconds (only to give other threads a chance, never for correctness). */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
