/**
 * Scenarios for Semaphore, Event, Condition and Barrier, run by the schedule
 * explorer. Each thread function runs in a simulated thread; a lost wake-up
 * shows as a deadlock (every unfinished thread asleep), an over-admission or
 * an early barrier pass as a thrown error, a lost permit in `check`.
 */
import { Barrier, type BarrierHandle } from "../../../primitives/barrier.ts";
import { Condition, type ConditionHandle } from "../../../primitives/condition.ts";
import { Event, type EventHandle } from "../../../primitives/event.ts";
import { Mutex } from "../../../primitives/mutex.ts";
import { Semaphore, type SemaphoreHandle } from "../../../primitives/semaphore.ts";
import { SharedValue, type SharedValueHandle } from "../../../primitives/shared_value.ts";
import { checkingAllocator, CheckingMemory } from "../../../shm/checking/checking_memory.ts";
import type { Scenario } from "../../../shm/checking/controller.ts";
import type { MemoryHandle } from "../../../shm/memory.ts";
import { enterCritical, leaveCritical, probeCount } from "./probe.ts";

const allocate = checkingAllocator;

// ------------------------------------------------------------- Semaphore

interface SemaphoreState {
  semaphore: SemaphoreHandle;
  probe: MemoryHandle;
  permits: number;
  rounds: number;
}

/** Acquires (blocking, timed or try, by round) and releases; at most `permits` inside. */
export function semaphoreThread(state: SemaphoreState, thread: number): number {
  const semaphore = Semaphore.from(state.semaphore);
  const probe = CheckingMemory.from(state.probe);
  let entered = 0;
  for (let i = 0; i < state.rounds; i++) {
    const mode = (i + thread) % 3;
    const held = mode === 0
      ? semaphore.acquire()
      : mode === 1
      ? semaphore.acquire({ timeout: 10 })
      : semaphore.tryAcquire();
    if (!held) continue;
    enterCritical(probe, 1, state.permits);
    leaveCritical(probe);
    semaphore.release();
    entered++;
  }
  return entered;
}

/** `threads` threads share `permits` permits: never over-admitted, none lost. */
export function semaphoreScenario(
  threads: number,
  permits: number,
  rounds: number,
): Scenario<SemaphoreState> {
  return {
    name: `Semaphore(${permits}) ${threads} threads x ${rounds}`,
    module: import.meta.url,
    threads: Array(threads).fill("semaphoreThread"),
    setup: () => ({
      semaphore: new Semaphore(permits, { allocate }).handle,
      probe: allocate(8).handle(),
      permits,
      rounds,
    }),
    check: (state, results) => {
      const value = Semaphore.from(state.semaphore).value;
      if (value !== permits) {
        throw new Error(`permits lost or created: value ${value}, ${permits} expected`);
      }
      const entered = (results as number[]).reduce((a, b) => a + b, 0);
      if (probeCount(state.probe) !== entered) throw new Error("entries do not add up");
    },
  };
}

// ----------------------------------------------------------------- Event

interface EventState {
  event: EventHandle;
  cleared: EventHandle;
}

/** Waits for the event (forever, or with a timeout and retries). */
export function eventWaiter(state: EventState, thread: number): boolean {
  const event = Event.from(state.event);
  if (thread % 2 === 0) return event.wait();
  while (!event.wait({ timeout: 3 })) { /* retry: a timeout is not a lost wake-up */ }
  return true;
}

/** Sets the event, after a clear/set cycle on a second event. */
export function eventSetter(state: EventState): boolean {
  const other = Event.from(state.cleared);
  other.set();
  other.clear();
  Event.from(state.event).set();
  return true;
}

/** Two waiters and a setter: every waiter wakes (a lost wake-up is a deadlock). */
export const eventScenario: Scenario<EventState> = {
  name: "Event wake-up",
  module: import.meta.url,
  threads: ["eventWaiter", "eventWaiter", "eventSetter"],
  setup: () => ({
    event: new Event({ allocate }).handle,
    cleared: new Event({ allocate }).handle,
  }),
  check: (_state, results) => {
    if (!results.slice(0, 2).every((r) => r === true)) throw new Error("a waiter returned false");
  },
};

// ------------------------------------------------------------- Condition

interface ConditionState {
  condition: ConditionHandle;
  items: MemoryHandle;
  perConsumer: number;
  consumers: number;
}

/** Takes `perConsumer` items, waiting on the condition while there are none. */
export function conditionConsumer(state: ConditionState): number {
  const condition = Condition.from(state.condition);
  const items = CheckingMemory.from(state.items);
  let taken = 0;
  for (let i = 0; i < state.perConsumer; i++) {
    condition.withLock(() => {
      condition.waitFor(() => items.load(0) > 0);
      items.add(0, -1);
      taken++;
    });
  }
  return taken;
}

/** Adds one item at a time, notifying one waiter each time. */
export function conditionProducer(state: ConditionState): number {
  const condition = Condition.from(state.condition);
  const items = CheckingMemory.from(state.items);
  const total = state.perConsumer * state.consumers;
  for (let i = 0; i < total; i++) {
    condition.withLock(() => {
      items.add(0, 1);
      condition.notify();
    });
  }
  return total;
}

/** Consumers wait for items a producer adds one by one: nobody sleeps forever. */
export function conditionScenario(
  consumers: number,
  perConsumer: number,
): Scenario<ConditionState> {
  return {
    name: `Condition ${consumers} consumers x ${perConsumer}`,
    module: import.meta.url,
    threads: [...Array(consumers).fill("conditionConsumer"), "conditionProducer"],
    setup: () => ({
      condition: new Condition({ allocate, lock: new Mutex({ allocate }) }).handle,
      items: allocate(4).handle(),
      perConsumer,
      consumers,
    }),
    check: (state) => {
      const left = CheckingMemory.from(state.items).load(0);
      if (left !== 0) throw new Error(`${left} items left`);
    },
  };
}

// --------------------------------------------------------------- Barrier

interface BarrierState {
  barrier: BarrierHandle;
  arrivals: MemoryHandle;
  parties: number;
  rounds: number;
}

/** Passes the barrier `rounds` times; checks no one passes before all arrived. */
export function barrierThread(state: BarrierState): number[] {
  const barrier = Barrier.from(state.barrier);
  const arrivals = CheckingMemory.from(state.arrivals);
  const indices: number[] = [];
  for (let round = 0; round < state.rounds; round++) {
    arrivals.add(0, 1);
    indices.push(barrier.wait());
    const seen = arrivals.load(0);
    if (seen < state.parties * (round + 1)) {
      throw new Error(`passed round ${round} after only ${seen} arrivals`);
    }
  }
  return indices;
}

/** `parties` threads meet `rounds` times: every round ends, with indices 0..parties-1. */
export function barrierScenario(parties: number, rounds: number): Scenario<BarrierState> {
  return {
    name: `Barrier ${parties} parties x ${rounds} rounds`,
    module: import.meta.url,
    threads: Array(parties).fill("barrierThread"),
    setup: () => ({
      barrier: new Barrier(parties, { allocate }).handle,
      arrivals: allocate(4).handle(),
      parties,
      rounds,
    }),
    check: (_state, results) => {
      for (let round = 0; round < rounds; round++) {
        const indices = (results as number[][]).map((r) => r[round]).sort();
        if (indices.join() !== Array.from({ length: parties }, (_, i) => i).join()) {
          throw new Error(`round ${round} indices ${indices.join()}`);
        }
      }
    },
  };
}

// ----------------------------------------------------------- SharedValue

interface ValueState {
  value: SharedValueHandle;
  counter: SharedValueHandle;
  rounds: number;
}

/** Read-modify-writes a float64 under its lock, and adds to an int32 atomically. */
export function valueThread(state: ValueState): number {
  const value = SharedValue.from(state.value);
  const counter = SharedValue.from(state.counter);
  for (let i = 0; i < state.rounds; i++) {
    value.withLock(() => {
      value.value = value.value + 1.5;
    });
    counter.add(1);
  }
  return state.rounds;
}

/** `threads` threads update a float64 (locked) and an int32 (atomic): no update lost. */
export function sharedValueScenario(threads: number, rounds: number): Scenario<ValueState> {
  return {
    name: `SharedValue ${threads} threads x ${rounds}`,
    module: import.meta.url,
    threads: Array(threads).fill("valueThread"),
    setup: () => ({
      value: new SharedValue("float64", 0.25, { allocate }).handle, // default lock
      counter: new SharedValue("int32", 0, { allocate, lock: false }).handle,
      rounds,
    }),
    check: (state) => {
      const value = SharedValue.from(state.value).value;
      const counter = SharedValue.from(state.counter).value;
      if (value !== 0.25 + 1.5 * threads * rounds) throw new Error(`float64 value ${value}`);
      if (counter !== threads * rounds) throw new Error(`int32 counter ${counter}`);
    },
  };
}

/** Like {@linkcode conditionConsumer}, but waits with a timeout and retries. */
export function conditionTimedConsumer(state: ConditionState): number {
  const condition = Condition.from(state.condition);
  const items = CheckingMemory.from(state.items);
  let taken = 0;
  for (let i = 0; i < state.perConsumer; i++) {
    condition.withLock(() => {
      while (!condition.waitFor(() => items.load(0) > 0, { timeout: 3 })) { /* retry */ }
      items.add(0, -1);
      taken++;
    });
  }
  return taken;
}

/**
 * One consumer waits with timeouts, one without: a notify aimed at a waiter
 * that times out must not be lost for the other one (that would deadlock).
 */
export function conditionTimeoutScenario(perConsumer: number): Scenario<ConditionState> {
  return {
    name: `Condition timed + untimed consumers x ${perConsumer}`,
    module: import.meta.url,
    threads: ["conditionTimedConsumer", "conditionConsumer", "conditionProducer"],
    setup: () => ({
      condition: new Condition({ allocate, lock: new Mutex({ allocate }) }).handle,
      items: allocate(4).handle(),
      perConsumer,
      consumers: 2,
    }),
    check: (state) => {
      const left = CheckingMemory.from(state.items).load(0);
      if (left !== 0) throw new Error(`${left} items left`);
    },
  };
}

/** Waits at the barrier (thread 0 with a timeout); reports "passed" or "broken". */
export function barrierTimedThread(state: BarrierState, thread: number): string {
  const barrier = Barrier.from(state.barrier);
  try {
    barrier.wait(thread === 0 ? { timeout: 5 } : undefined);
    return "passed";
  } catch (err) {
    if ((err as Error).name === "BrokenBarrierError") return "broken";
    throw err;
  }
}

/**
 * A party times out: either everyone passed first, or the barrier breaks for
 * everyone (nobody is left waiting, nobody passes a broken generation).
 */
export function barrierTimeoutScenario(parties: number): Scenario<BarrierState> {
  return {
    name: `Barrier ${parties} parties, one with a timeout`,
    module: import.meta.url,
    threads: Array(parties).fill("barrierTimedThread"),
    setup: () => ({
      barrier: new Barrier(parties, { allocate }).handle,
      arrivals: allocate(4).handle(),
      parties,
      rounds: 1,
    }),
    check: (_state, results) => {
      const outcomes = new Set(results as string[]);
      if (outcomes.size !== 1) throw new Error(`mixed outcomes: ${results.join(", ")}`);
    },
  };
}
