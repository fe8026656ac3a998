/**
 * BROKEN ON PURPOSE (with its correct twin): a single-producer
 * single-consumer ring of one-cell messages, the publication step of
 * `primitives/_spsc_ring.ts` (write the payload, then store TAIL). The broken
 * producer stores TAIL first and writes the payload after, so a consumer that
 * runs in between reads a stale slot.
 */
import { checkingAllocator, CheckingMemory } from "../../../shm/checking/checking_memory.ts";
import type { Scenario } from "../../../shm/checking/controller.ts";
import type { MemoryHandle } from "../../../shm/memory.ts";

const TAIL = 0;
const HEAD = 1;
const DATA = 2;
const CAPACITY = 2;
const MESSAGES = 3;

interface State {
  ring: MemoryHandle;
  publishEarly: boolean;
}

/** Sends 1..MESSAGES (as 4 payload bytes each). */
export function ringProducer(state: State): void {
  const memory = CheckingMemory.from(state.ring);
  for (let message = 1; message <= MESSAGES; message++) {
    const tail = memory.load(TAIL);
    for (;;) {
      const head = memory.load(HEAD);
      if (tail - head < CAPACITY) break;
      memory.wait(HEAD, head);
    }
    const payload = new Uint8Array(new Int32Array([message]).buffer);
    const slot = (DATA + (tail % CAPACITY)) * 4;
    if (state.publishEarly) {
      memory.store(TAIL, tail + 1); // the faulty step: published before written
      memory.writeBytes(slot, payload);
    } else {
      memory.writeBytes(slot, payload);
      memory.store(TAIL, tail + 1);
    }
    memory.notify(TAIL);
  }
}

/** Receives MESSAGES messages; returns them in order. */
export function ringConsumer(state: State): number[] {
  const memory = CheckingMemory.from(state.ring);
  const received: number[] = [];
  while (received.length < MESSAGES) {
    const head = memory.load(HEAD);
    const tail = memory.load(TAIL);
    if (tail === head) {
      memory.wait(TAIL, tail);
      continue;
    }
    const bytes = new Uint8Array(4);
    memory.readBytes((DATA + (head % CAPACITY)) * 4, bytes);
    received.push(new Int32Array(bytes.buffer)[0]);
    memory.store(HEAD, head + 1);
    memory.notify(HEAD);
  }
  return received;
}

/** One producer, one consumer: every message arrives once, in order. */
export function ringScenario(publishEarly: boolean): Scenario<State> {
  return {
    name: publishEarly ? "BROKEN ring publishing before writing" : "ring (correct order)",
    module: import.meta.url,
    threads: ["ringProducer", "ringConsumer"],
    setup: () => ({ ring: checkingAllocator((DATA + CAPACITY) * 4).handle(), publishEarly }),
    check: (_state, results) => {
      const received = results[1] as number[];
      const expected = Array.from({ length: MESSAGES }, (_, i) => i + 1);
      if (JSON.stringify(received) !== JSON.stringify(expected)) {
        throw new Error(`received ${JSON.stringify(received)}, sent ${JSON.stringify(expected)}`);
      }
    },
  };
}
