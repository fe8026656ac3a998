/** Functions run inside workers by tests/shared_value_test.ts. */
import {
  SharedArray,
  type SharedArrayHandle,
  SharedValue,
  type SharedValueHandle,
} from "../../primitives/shared_value.ts";

/** Stores `value` into the shared value. */
export function setValue(handle: SharedValueHandle, value: number): number {
  const v = SharedValue.from(handle);
  v.value = value;
  return v.value;
}

/** `n` read-modify-write increments, each inside withLock (Python's `with v.get_lock()`). */
export function incrementLocked(handle: SharedValueHandle, n: number): number {
  const v = SharedValue.from(handle);
  for (let i = 0; i < n; i++) {
    v.withLock(() => {
      v.value = v.value + 1;
    });
  }
  return n;
}

/** `n` atomic adds of `delta`. */
export function addMany(handle: SharedValueHandle, n: number, delta: number): number {
  const v = SharedValue.from(handle);
  for (let i = 0; i < n; i++) v.add(delta);
  return n;
}

/** `n` increments by compare-exchange loops; returns the number of retries. */
export function casIncrement(handle: SharedValueHandle, n: number): number {
  const v = SharedValue.from(handle);
  let retries = 0;
  for (let i = 0; i < n; i++) {
    let old = v.load();
    for (;;) {
      const seen = v.compareExchange(old, old + 1);
      if (seen === old) break;
      old = seen;
      retries++;
    }
  }
  return retries;
}

/** Writes `base + i` into every element i of the array, and returns its sum read back. */
export function fillArray(handle: SharedArrayHandle, base: number): number {
  const a = SharedArray.from(handle);
  for (let i = 0; i < a.length; i++) a.store(i, base + i);
  return a.toArray().reduce((x, y) => x + y, 0);
}

/** Adds 1 to each element `n` times (element-wise atomics). */
export function bumpAll(handle: SharedArrayHandle, n: number): number {
  const a = SharedArray.from(handle);
  for (let k = 0; k < n; k++) for (let i = 0; i < a.length; i++) a.add(i, 1);
  return n;
}
