/** Functions run inside workers by tests/event_test.ts. */
import { Event, type EventHandle } from "../../primitives/event.ts";

/** Counts itself in ready[0] (notified), waits on the event; returns [result, elapsedMs]. */
export function waitForEvent(
  handle: EventHandle,
  ready: Int32Array,
  timeout?: number,
): [boolean, number] {
  const event = Event.from(handle);
  Atomics.add(ready, 0, 1);
  Atomics.notify(ready, 0);
  const start = performance.now();
  const result = event.wait({ timeout });
  return [result, performance.now() - start];
}

/** Sets the event after `delayMs`. */
export function setAfter(handle: EventHandle, delayMs: number): boolean {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, delayMs);
  Event.from(handle).set();
  return true;
}

/** Sets then immediately clears the event. */
export function setAndClear(handle: EventHandle): boolean {
  const event = Event.from(handle);
  event.set();
  event.clear();
  return true;
}
