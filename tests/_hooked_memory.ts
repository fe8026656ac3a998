/**
 * Step-by-step interleavings on one thread: a view of a primitive's memory
 * that runs a hook before each operation, so a test can stop one party at
 * an exact point, run another, and resume the first.
 *
 * @module
 */

import type { Memory } from "../shm/memory.ts";
import { type Codec, resolveCodec } from "../shm/codec.ts";

/**
 * Runs before a memory operation: its name and arguments. May throw to stop
 * the party, or return `{ value }` to answer the operation instead of the
 * memory.
 */
export type Hook = ((op: string, args: number[]) => void | { value: number }) | undefined;

/** The memory a queue (or any primitive with a `memory` member) lives in. */
export function memoryOf(primitive: object): Memory {
  return (primitive as { memory: Memory }).memory;
}

/** A view of `raw` that calls the current `hook()` before each operation (see {@linkcode Hook}). */
export function hookedView(raw: Memory, hook: () => Hook): Memory {
  return new Proxy(raw, {
    get(target, key) {
      const value = Reflect.get(target, key);
      if (typeof value !== "function") return value;
      return (...args: number[]) => {
        const answer = hook()?.(key as string, args);
        return answer !== undefined ? answer.value : value.apply(target, args);
      };
    },
  });
}

/** The "number" codec, for building queues over a view. */
export const numberCodec: Codec<number> = resolveCodec("number", "structured").codec as Codec<
  number
>;
