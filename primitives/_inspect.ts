/**
 * What `console.log` and `Deno.inspect` (and Node's `util.inspect`) show of
 * a primitive: its kind and its state at that moment, like Python's reprs
 * (`<locked _thread.lock object>`, `<threading.Event: set>`), instead of an
 * empty `Mutex {}`.
 *
 * @module
 */

/** The method name through which Deno's `inspect` asks an object for its text. */
export const DENO_INSPECT: unique symbol = Symbol.for("Deno.customInspect");
/** The same for Node's `util.inspect` (and Deno's `node:util`). */
export const NODE_INSPECT: unique symbol = Symbol.for("nodejs.util.inspect.custom");

/** `Kind { key: value, ... }`, strings quoted. */
export function describeState(kind: string, state: Record<string, unknown>): string {
  const fields = Object.entries(state).map(([key, value]) =>
    `${key}: ${typeof value === "string" ? JSON.stringify(value) : String(value)}`
  );
  return `${kind} { ${fields.join(", ")} }`;
}
