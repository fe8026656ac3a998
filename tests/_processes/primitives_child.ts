/**
 * Child process for process_primitives_test.ts. First argument: the role.
 * - ["semaphore", semaphore, inside, peak, rounds]: `rounds` times: acquire,
 *   count itself inside, record the peak, leave, release.
 * - ["barrier", barrier, slots, index, rounds]: each round writes the round
 *   number into its slot, waits at the barrier, checks every slot holds the
 *   round, waits again (exit 9 on a mismatch).
 * - ["ring", ring, count]: pops `count` numbers, exits 9 unless they are 0..count-1.
 */
import type { Barrier } from "../../primitives/barrier.ts";
import type { RingBuffer } from "../../primitives/ring_buffer.ts";
import type { Semaphore } from "../../primitives/semaphore.ts";
import type { SharedArray, SharedValue } from "../../primitives/shared_value.ts";
import { processArgs } from "../../workers/process_handle.ts";

const args = processArgs();
if (args[0] === "semaphore") {
  const [, semaphore, inside, peak, rounds] = args as [
    string,
    Semaphore,
    SharedValue,
    SharedValue,
    number,
  ];
  for (let i = 0; i < rounds; i++) {
    if (!semaphore.acquire({ timeout: 20_000 })) Deno.exit(3);
    const now = inside.add(1) + 1;
    for (let seen = peak.load(); now > seen; seen = peak.load()) {
      if (peak.compareExchange(seen, now) === seen) break;
    }
    inside.sub(1);
    semaphore.release();
  }
} else if (args[0] === "barrier") {
  const [, barrier, slots, index, rounds] = args as [string, Barrier, SharedArray, number, number];
  for (let round = 1; round <= rounds; round++) {
    slots.store(index, round);
    barrier.wait({ timeout: 20_000 });
    for (let k = 0; k < slots.length; k++) if (slots.load(k) !== round) Deno.exit(9);
    barrier.wait({ timeout: 20_000 });
  }
} else if (args[0] === "ring") {
  const [, ring, count] = args as [string, RingBuffer, number];
  for (let i = 0; i < count; i++) {
    if (ring.popNumber({ timeout: 20_000 }) !== i) Deno.exit(9);
  }
}
