/**
 * Mutual exclusion scenarios for `Mutex` and `RecursiveMutex`, run by the
 * schedule explorer (thread functions execute in simulated threads).
 */
import { Mutex, type MutexHandle } from "../../../primitives/mutex.ts";
import { RecursiveMutex, type RecursiveMutexHandle } from "../../../primitives/recursive_mutex.ts";
import { checkingAllocator, CheckingMemory } from "../../../shm/checking/checking_memory.ts";
import type { Scenario } from "../../../shm/checking/controller.ts";
import type { MemoryHandle } from "../../../shm/memory.ts";
import { enterCritical, leaveCritical, probeCount } from "./probe.ts";

interface MutexState {
  mutex: MutexHandle;
  probe: MemoryHandle;
  rounds: number;
}

/** Each thread takes the lock `rounds` times and checks nobody else is inside. */
export function lockRounds(state: MutexState): number {
  const mutex = Mutex.from(state.mutex);
  const probe = CheckingMemory.from(state.probe);
  for (let i = 0; i < state.rounds; i++) {
    mutex.lock();
    enterCritical(probe, 1);
    leaveCritical(probe);
    mutex.unlock();
  }
  return state.rounds;
}

/** Like {@linkcode lockRounds}, with tryLock and a timed lock mixed in. */
export function lockMixed(state: MutexState, thread: number): number {
  const mutex = Mutex.from(state.mutex);
  const probe = CheckingMemory.from(state.probe);
  let entered = 0;
  for (let i = 0; i < state.rounds; i++) {
    const held = (i + thread) % 2 === 0 ? mutex.tryLock() : mutex.lock({ timeout: 5 });
    if (!held) continue;
    enterCritical(probe, 1);
    leaveCritical(probe);
    mutex.unlock();
    entered++;
  }
  return entered;
}

/** `threads` threads each lock a Mutex `rounds` times. */
export function mutexScenario(threads: number, rounds: number): Scenario<MutexState> {
  return {
    name: `Mutex mutual exclusion (${threads} threads x ${rounds})`,
    module: import.meta.url,
    threads: Array(threads).fill("lockRounds"),
    setup: () => ({
      mutex: new Mutex({ allocate: checkingAllocator }).handle,
      probe: checkingAllocator(8).handle(),
      rounds,
    }),
    check: (state) => {
      const entries = probeCount(state.probe);
      if (entries !== threads * rounds) {
        throw new Error(`${entries} critical sections, expected ${threads * rounds}`);
      }
      if (Mutex.from(state.mutex).locked()) throw new Error("mutex left locked");
    },
  };
}

/** Mixed tryLock / timed lock / lock: exclusion holds and the entries add up. */
export function mutexMixedScenario(threads: number, rounds: number): Scenario<MutexState> {
  return {
    name: `Mutex tryLock/timed lock (${threads} threads x ${rounds})`,
    module: import.meta.url,
    threads: Array(threads).fill("lockMixed"),
    setup: () => ({
      mutex: new Mutex({ allocate: checkingAllocator }).handle,
      probe: checkingAllocator(8).handle(),
      rounds,
    }),
    check: (state, results) => {
      const entered = (results as number[]).reduce((a, b) => a + b, 0);
      if (probeCount(state.probe) !== entered) {
        throw new Error(`${probeCount(state.probe)} critical sections, threads report ${entered}`);
      }
      if (Mutex.from(state.mutex).locked()) throw new Error("mutex left locked");
    },
  };
}

interface RecursiveState {
  mutex: RecursiveMutexHandle;
  probe: MemoryHandle;
  rounds: number;
}

/** Takes the recursive mutex twice (nested) per round. */
export function recursiveRounds(state: RecursiveState): number {
  const mutex = RecursiveMutex.from(state.mutex);
  const probe = CheckingMemory.from(state.probe);
  for (let i = 0; i < state.rounds; i++) {
    mutex.lock();
    enterCritical(probe, 1);
    mutex.lock();
    leaveCritical(probe);
    mutex.unlock();
    enterCritical(probe, 0);
    leaveCritical(probe);
    mutex.unlock();
  }
  return state.rounds;
}

/** `threads` threads each take a RecursiveMutex (nested twice) `rounds` times. */
export function recursiveMutexScenario(
  threads: number,
  rounds: number,
): Scenario<RecursiveState> {
  return {
    name: `RecursiveMutex mutual exclusion (${threads} threads x ${rounds})`,
    module: import.meta.url,
    threads: Array(threads).fill("recursiveRounds"),
    setup: () => ({
      mutex: new RecursiveMutex({ allocate: checkingAllocator }).handle,
      probe: checkingAllocator(8).handle(),
      rounds,
    }),
    check: (state) => {
      const entries = probeCount(state.probe);
      if (entries !== threads * rounds) {
        throw new Error(`${entries} critical sections, expected ${threads * rounds}`);
      }
    },
  };
}

/** Like {@linkcode lockRounds} with the async forms (waits are modelled the same way). */
export async function lockRoundsAsync(state: MutexState): Promise<number> {
  const mutex = Mutex.from(state.mutex);
  const probe = CheckingMemory.from(state.probe);
  for (let i = 0; i < state.rounds; i++) {
    await mutex.withLockAsync(() => {
      enterCritical(probe, 1);
      leaveCritical(probe);
    });
  }
  return state.rounds;
}

/** One thread uses `lock()`, the other `withLockAsync()`. */
export function mutexAsyncScenario(rounds: number): Scenario<MutexState> {
  return {
    ...mutexScenario(2, rounds),
    name: `Mutex lock + withLockAsync (2 threads x ${rounds})`,
    threads: ["lockRounds", "lockRoundsAsync"],
  };
}
