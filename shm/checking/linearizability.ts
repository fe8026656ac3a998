/**
 * Linearizability checking of recorded histories (Wing & Gong's search with
 * Lowe's memoisation, as in Porcupine), and sequential models of the
 * primitives.
 *
 * A history is a list of completed operations, each with the thread that
 * ran it, its input and output, and the times it was invoked and returned,
 * read from one shared clock (an atomic counter: totally ordered, and cheaper
 * than a wall clock). The history is linearizable if the operations can be
 * put in one sequential order that respects real time (an operation that
 * returned before another was invoked comes first) and in which the
 * sequential model produces every recorded output.
 *
 * @module
 */

/**
 * One completed operation of a recorded history.
 *
 * @example
 * ```ts
 * import { checkLinearizable, mutexModel, type MutexInput, type Operation } from "@concur/shm/testing";
 *
 * // thread 1's tryLock failed while thread 0 held the lock: linearizable
 * const history: Operation<MutexInput, boolean | "ok">[] = [
 *   { thread: 0, input: { op: "lock" }, output: true, invoke: 0, response: 1 },
 *   { thread: 1, input: { op: "tryLock" }, output: false, invoke: 2, response: 3 },
 *   { thread: 0, input: { op: "unlock" }, output: "ok", invoke: 4, response: 5 },
 * ];
 * console.log(checkLinearizable(mutexModel(), history).ok); // true
 * ```
 */
export interface Operation<I = unknown, O = unknown> {
  /** The thread (worker) that ran it. */
  readonly thread: number;
  /** What was asked (operation name and arguments). */
  readonly input: I;
  /** What it returned. */
  readonly output: O;
  /** Clock reading just before the call. */
  readonly invoke: number;
  /** Clock reading just after it returned. */
  readonly response: number;
}

/**
 * The sequential specification of an object: from a state and an operation's
 * input and recorded output, the next state, or `undefined` if the object
 * could not have produced that output in that state. States must be treated
 * as immutable.
 *
 * @example
 * ```ts
 * import { checkLinearizable, type SequentialModel } from "@concur/shm/testing";
 *
 * // a shared counter: "inc" returns the new value
 * const counter: SequentialModel<number, "inc", number> = {
 *   name: "counter",
 *   init: () => 0,
 *   step: (state, _input, output) => (output === state + 1 ? output : undefined),
 * };
 * const history = [
 *   { thread: 0, input: "inc" as const, output: 2, invoke: 0, response: 4 },
 *   { thread: 1, input: "inc" as const, output: 1, invoke: 1, response: 3 },
 * ];
 * console.log(checkLinearizable(counter, history).ok); // true: thread 1's inc took effect first
 * ```
 */
export interface SequentialModel<S, I, O> {
  /** A name for reports. */
  readonly name: string;
  /** The state before the first operation. */
  init(): S;
  /** The state after `input` returned `output` in `state`; `undefined` if impossible. */
  step(state: S, input: I, output: O, thread: number): S | undefined;
  /** A string that identifies a state (for memoisation); default `JSON.stringify`. */
  key?(state: S): string;
}

/**
 * The verdict on one history.
 *
 * @example
 * ```ts
 * import { checkLinearizable, type LinearizabilityResult, queueModel } from "@concur/shm/testing";
 *
 * const result: LinearizabilityResult = checkLinearizable(queueModel(1), [
 *   { thread: 0, input: { op: "get" }, output: 5, invoke: 0, response: 1 }, // 5 was never put
 * ]);
 * console.log(result.ok, result.order); // false undefined
 * if (!result.ok) console.log(result.description); // the history, one operation per line
 * ```
 */
export interface LinearizabilityResult {
  /** Whether some legal sequential order exists. */
  readonly ok: boolean;
  /** A witness order (indices into the history), when `ok`. */
  readonly order?: number[];
  /** The history, one operation per line, for a failing report. */
  readonly description?: string;
}

/**
 * Checks one history against a sequential model. Histories of up to 30
 * operations are supported (the search keeps a bit set of linearized
 * operations); short histories are the point: many of them, each small.
 *
 * @param model The sequential specification.
 * @param history The completed operations, in any order.
 * @returns Whether the history is linearizable (with a witness order).
 *
 * @example A queue history with overlapping operations
 * ```ts
 * import { checkLinearizable, type Operation, queueModel } from "@concur/shm/testing";
 * import type { QueueInput, QueueOutput } from "@concur/shm/testing";
 *
 * const history: Operation<QueueInput, QueueOutput>[] = [
 *   { thread: 0, input: { op: "put", value: 1 }, output: "ok", invoke: 0, response: 3 },
 *   { thread: 1, input: { op: "get" }, output: 1, invoke: 1, response: 2 },
 * ];
 * console.log(checkLinearizable(queueModel(2), history).ok); // true
 * ```
 */
export function checkLinearizable<S, I, O>(
  model: SequentialModel<S, I, O>,
  history: readonly Operation<I, O>[],
): LinearizabilityResult {
  const n = history.length;
  if (n > 30) throw new RangeError(`Histories of at most 30 operations: received ${n}`);
  const ops = [...history.keys()].sort((a, b) => history[a].invoke - history[b].invoke);
  const key = model.key ?? ((state: S) => JSON.stringify(state));
  const full = n === 30 ? 0x3fffffff : (1 << n) - 1;
  const seen = new Set<string>();
  const order: number[] = [];

  const search = (done: number, state: S): boolean => {
    if (done === full) return true;
    const memo = `${done}|${key(state)}`;
    if (seen.has(memo)) return false;
    seen.add(memo);
    // An operation may go next only if it was invoked before every pending
    // operation's response (otherwise that one must precede it).
    let minResponse = Infinity;
    for (const i of ops) {
      if ((done & (1 << i)) === 0 && history[i].response < minResponse) {
        minResponse = history[i].response;
      }
    }
    for (const i of ops) {
      if ((done & (1 << i)) !== 0) continue;
      const op = history[i];
      if (op.invoke > minResponse) break; // ops are sorted by invocation
      const next = model.step(state, op.input, op.output, op.thread);
      if (next === undefined) continue;
      order.push(i);
      if (search(done | (1 << i), next)) return true;
      order.pop();
    }
    return false;
  };

  if (search(0, model.init())) return { ok: true, order: [...order] };
  return { ok: false, description: describeHistory(history) };
}

/**
 * Writes a history one operation per line, by invocation time.
 *
 * @example
 * ```ts
 * import { describeHistory } from "@concur/shm/testing";
 *
 * console.log(describeHistory([
 *   { thread: 0, input: { op: "tryAcquire" }, output: true, invoke: 0, response: 1 },
 * ]));
 * ```
 */
export function describeHistory(history: readonly Operation[]): string {
  return [...history]
    .sort((a, b) => a.invoke - b.invoke)
    .map((op) =>
      `  t${op.thread} [${op.invoke}, ${op.response}] ${JSON.stringify(op.input)} -> ${
        JSON.stringify(op.output)
      }`
    )
    .join("\n");
}

/**
 * A shared clock for recording histories across workers: an atomic counter
 * in a `SharedArrayBuffer`. Readings are unique and totally ordered.
 *
 * @example
 * ```ts
 * import { HistoryClock, type Operation } from "@concur/shm/testing";
 *
 * const clock = new HistoryClock();
 * // post clock.buffer to workers; there: new HistoryClock(buffer)
 * const log: Operation[] = [];
 * const value = clock.record(log, 0, { op: "get" }, () => 42);
 * console.log(value, log.length); // 42 1
 * ```
 */
export class HistoryClock {
  /** The shared counter (post it to workers). */
  readonly buffer: SharedArrayBuffer;
  readonly #cells: Int32Array;

  /**
   * Creates a clock, or attaches to an existing one (in another worker).
   *
   * @param buffer An existing clock's buffer, or nothing for a new clock.
   */
  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(4)) {
    this.buffer = buffer;
    this.#cells = new Int32Array(buffer, 0, 1);
  }

  /**
   * The next reading.
   *
   * @example
   * ```ts
   * import { HistoryClock } from "@concur/shm/testing";
   *
   * const clock = new HistoryClock();
   * console.log(clock.tick() < clock.tick()); // true
   * ```
   */
  tick(): number {
    return Atomics.add(this.#cells, 0, 1);
  }

  /**
   * Runs `fn` between two readings and appends the operation to `log`. If
   * `fn` throws, the error's name becomes the output `{ error: name }`.
   *
   * @returns What `fn` returned.
   *
   * @example
   * ```ts
   * import { HistoryClock, type Operation } from "@concur/shm/testing";
   *
   * const clock = new HistoryClock();
   * const log: Operation[] = [];
   * clock.record(log, 0, { op: "tryAcquire" }, () => true);
   * console.log(log[0].invoke < log[0].response); // true
   * ```
   */
  record<I, O>(
    log: Operation<I, O | { error: string }>[],
    thread: number,
    input: I,
    fn: () => O,
  ): O {
    const invoke = this.tick();
    let output: O | { error: string };
    try {
      output = fn();
    } catch (err) {
      output = { error: (err as Error)?.name ?? String(err) };
      log.push({ thread, input, output, invoke, response: this.tick() });
      throw err;
    }
    log.push({ thread, input, output, invoke, response: this.tick() });
    return output as O;
  }
}

// ------------------------------------------------------------------ models

/**
 * Inputs of {@linkcode queueModel}.
 *
 * @example
 * ```ts
 * import { queueModel, type QueueInput } from "@concur/shm/testing";
 *
 * const model = queueModel(2);
 * const put: QueueInput = { op: "put", value: 7 };
 * const get: QueueInput = { op: "get" };
 * const state = model.step(model.init(), put, "ok", 0)!;
 * console.log(model.step(state, get, 7, 1)); // []
 * ```
 */
export type QueueInput = { op: "put"; value: number } | { op: "get" };
/**
 * Outputs of {@linkcode queueModel}: `"ok"` for a put, the value for a get,
 * `"full"` / `"empty"` when a non-blocking (or timed-out) call failed.
 *
 * @example
 * ```ts
 * import { queueModel, type QueueOutput } from "@concur/shm/testing";
 *
 * const model = queueModel(2);
 * const outcome: QueueOutput = "empty"; // a tryGet (or timed get) that found nothing
 * console.log(model.step(model.init(), { op: "get" }, outcome, 0)); // []: legal when empty
 * ```
 */
export type QueueOutput = "ok" | "full" | "empty" | number;

/**
 * A FIFO queue of at most `capacity` items (`Infinity`: unbounded): put fails
 * with "full" only when full, get with "empty" only when empty.
 *
 * @example
 * ```ts
 * import { queueModel } from "@concur/shm/testing";
 *
 * const model = queueModel(1);
 * const s1 = model.step(model.init(), { op: "put", value: 7 }, "ok", 0)!;
 * console.log(model.step(s1, { op: "put", value: 8 }, "full", 0)); // [7]
 * ```
 */
export function queueModel(
  capacity: number,
): SequentialModel<readonly number[], QueueInput, QueueOutput> {
  return {
    name: `Queue(${capacity})`,
    init: () => [],
    key: (state) => state.join(","),
    step(state, input, output) {
      if (input.op === "put") {
        if (output === "full") return state.length >= capacity ? state : undefined;
        if (output !== "ok" || state.length >= capacity) return undefined;
        return [...state, input.value];
      }
      if (output === "empty") return state.length === 0 ? state : undefined;
      if (state.length === 0 || state[0] !== output) return undefined;
      return state.slice(1);
    },
  };
}

/**
 * Inputs of {@linkcode ringBufferModel}: messages are identified by a number and a length.
 *
 * @example
 * ```ts
 * import { ringBufferModel, type RingInput } from "@concur/shm/testing";
 *
 * const model = ringBufferModel(64);
 * const push: RingInput = { op: "push", id: 1, length: 10 }; // message 1, 10 bytes
 * const state = model.step(model.init(), push, true, 0)!;
 * console.log(model.step(state, { op: "pop" }, 1, 1)?.ids); // []
 * ```
 */
export type RingInput = { op: "push"; id: number; length: number } | { op: "pop" };
/**
 * Outputs: `true`/`false` for a push, the popped message's id or `null` (empty).
 *
 * @example
 * ```ts
 * import { ringBufferModel, type RingOutput } from "@concur/shm/testing";
 *
 * const model = ringBufferModel(64);
 * const popped: RingOutput = null; // a pop that found the ring empty
 * console.log(model.step(model.init(), { op: "pop" }, popped, 0) !== undefined); // true
 * ```
 */
export type RingOutput = boolean | number | null;
/**
 * State of {@linkcode ringBufferModel}: the messages held (ids, lengths) and bytes used.
 *
 * @example
 * ```ts
 * import { ringBufferModel, type RingState } from "@concur/shm/testing";
 *
 * const model = ringBufferModel(64);
 * const state: RingState = model.step(model.init(), { op: "push", id: 1, length: 10 }, true, 0)!;
 * console.log(state); // { ids: [ 1 ], lengths: [ 10 ], used: 16 }: a 4-byte header, padded
 * ```
 */
export interface RingState {
  /** Ids of the messages held, oldest first. */
  readonly ids: readonly number[];
  /** Their lengths in bytes. */
  readonly lengths: readonly number[];
  /** Bytes of the ring they take. */
  readonly used: number;
}

/**
 * A byte ring of `capacity` bytes where a message of `length` bytes takes
 * `4 + roundUp4(length)` bytes: a push fails only when it does not fit, a
 * pop fails only when the ring is empty.
 *
 * @example
 * ```ts
 * import { ringBufferModel } from "@concur/shm/testing";
 *
 * const model = ringBufferModel(16);
 * const s = model.step(model.init(), { op: "push", id: 1, length: 8 }, true, 0)!;
 * console.log(model.step(s, { op: "push", id: 2, length: 8 }, false, 0) !== undefined); // true
 * ```
 */
export function ringBufferModel(
  capacity: number,
): SequentialModel<RingState, RingInput, RingOutput> {
  const size = (length: number) => 4 + ((length + 3) & ~3);
  return {
    name: `RingBuffer(${capacity} bytes)`,
    init: () => ({ ids: [], lengths: [], used: 0 }),
    key: (state) => state.ids.join(","),
    step(state, input, output) {
      if (input.op === "push") {
        const need = size(input.length);
        const fits = state.used + need <= capacity;
        if (output === false) return fits ? undefined : state;
        if (output !== true || !fits) return undefined;
        return {
          ids: [...state.ids, input.id],
          lengths: [...state.lengths, input.length],
          used: state.used + need,
        };
      }
      if (output === null) return state.ids.length === 0 ? state : undefined;
      if (state.ids.length === 0 || state.ids[0] !== output) return undefined;
      return {
        ids: state.ids.slice(1),
        lengths: state.lengths.slice(1),
        used: state.used - size(state.lengths[0]),
      };
    },
  };
}

/**
 * Inputs of {@linkcode semaphoreModel}.
 *
 * @example
 * ```ts
 * import { semaphoreModel, type SemaphoreInput } from "@concur/shm/testing";
 *
 * const model = semaphoreModel(1);
 * const acquire: SemaphoreInput = { op: "acquire" };
 * const state = model.step(model.init(), acquire, true, 0)!;
 * console.log(model.step(state, { op: "release" }, "ok", 0)); // 1: the permit is back
 * ```
 */
export type SemaphoreInput = { op: "acquire" } | { op: "tryAcquire" } | { op: "release" };

/**
 * A counting semaphore: an acquire that returned `true` took a permit that
 * existed; one that returned `false` (try, or timed out) saw none; release
 * adds one.
 *
 * @example
 * ```ts
 * import { semaphoreModel } from "@concur/shm/testing";
 *
 * const model = semaphoreModel(1);
 * const s = model.step(model.init(), { op: "tryAcquire" }, true, 0)!;
 * console.log(model.step(s, { op: "tryAcquire" }, true, 1)); // undefined: no permit left
 * ```
 */
export function semaphoreModel(
  permits: number,
): SequentialModel<number, SemaphoreInput, boolean | "ok"> {
  return {
    name: `Semaphore(${permits})`,
    init: () => permits,
    key: String,
    step(value, input, output) {
      if (input.op === "release") return value + 1;
      if (output === true) return value > 0 ? value - 1 : undefined;
      return value === 0 ? value : undefined;
    },
  };
}

/**
 * Inputs of {@linkcode mutexModel}.
 *
 * @example
 * ```ts
 * import { mutexModel, type MutexInput } from "@concur/shm/testing";
 *
 * const model = mutexModel();
 * const tryLock: MutexInput = { op: "tryLock" };
 * const held = model.step(model.init(), { op: "lock" }, true, 0)!;
 * console.log(model.step(held, tryLock, false, 1) !== undefined); // true: failing is legal
 * ```
 */
export type MutexInput = { op: "lock" } | { op: "tryLock" } | { op: "unlock" };

/**
 * A mutex: lock (or a successful tryLock) takes it only when free; a failed
 * tryLock saw it held; unlock frees it and must come from its holder.
 * The state is the holder's thread, or -1.
 *
 * @example
 * ```ts
 * import { mutexModel } from "@concur/shm/testing";
 *
 * const model = mutexModel();
 * const held = model.step(model.init(), { op: "lock" }, true, 0)!;
 * console.log(model.step(held, { op: "tryLock" }, true, 1)); // undefined: it is held
 * ```
 */
export function mutexModel(): SequentialModel<number, MutexInput, boolean | "ok"> {
  return {
    name: "Mutex",
    init: () => -1,
    key: String,
    step(holder, input, output, thread) {
      if (input.op === "unlock") return holder === thread ? -1 : undefined;
      if (output === true) return holder === -1 ? thread : undefined;
      return holder !== -1 ? holder : undefined;
    },
  };
}
