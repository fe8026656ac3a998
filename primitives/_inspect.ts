/**
 * What `console.log` and `Deno.inspect` (and `node:util`'s `inspect`, which
 * honours the same method under Deno) show of a primitive: its kind and its
 * state at that moment, like Python's reprs (`<locked _thread.lock object>`,
 * `<threading.Event: set>`), instead of an empty `Mutex {}`.
 *
 * @module
 */

/** The method name through which Deno's `inspect` asks an object for its text. */
export const DENO_INSPECT: unique symbol = Symbol.for("Deno.customInspect");

/** `Kind { key: value, ... }`, strings quoted. */
export function describeState(kind: string, state: Record<string, unknown>): string {
  const fields = Object.entries(state).map(([key, value]) =>
    `${key}: ${typeof value === "string" ? JSON.stringify(value) : String(value)}`
  );
  return `${kind} { ${fields.join(", ")} }`;
}
