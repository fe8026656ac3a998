/// <reference lib="deno.worker" />
/**
 * A simulated thread: a real worker that runs scenario functions under the
 * controller's schedule (see `protocol.ts` for the hand-off).
 *
 * The worker is reused across schedules: it sleeps on its slot until the
 * controller posts a command (module URL, export name, arguments, owner id),
 * runs it with the scheduler hook installed and the clock made virtual, and
 * reports the result in its slot.
 *
 * @module
 */

import { installScheduler, type SchedulerHook, useCheckingHeap } from "./checking_memory.ts";
import { setCurrentOwnerId } from "../../primitives/_owner.ts";
import type { WaitResult } from "../memory.ts";
import {
  ANNOUNCED,
  CLOCK_INDEX,
  FINISH_ABORTED,
  FINISH_RETURNED,
  FINISH_THREW,
  FINISHED,
  GRANT_ABORT,
  OP_NOTIFY,
  OP_WAIT,
  QUIT,
  readText,
  S_ARG0,
  S_ARG1,
  S_FINISH,
  S_GRANT,
  S_OP,
  S_RESULT,
  S_STATE,
  slotBase,
  START,
  timeoutIndex,
  writeText,
} from "./protocol.ts";

/** Thrown inside a simulated thread when the controller ends the schedule. */
class ScheduleAborted extends Error {
  override name = "ScheduleAborted";
}

const WAIT_RESULTS: readonly WaitResult[] = ["ok", "not-equal", "timed-out"];

self.onmessage = (event: MessageEvent) => {
  const { control, heap, thread } = event.data as {
    control: SharedArrayBuffer;
    heap: SharedArrayBuffer;
    thread: number;
  };
  useCheckingHeap(heap);
  self.onmessage = null;
  self.postMessage("ready");
  serve(control, thread).finally(() => self.close());
};

async function serve(control: SharedArrayBuffer, thread: number): Promise<void> {
  const cells = new Int32Array(control);
  const floats = new Float64Array(control);
  const base = slotBase(thread);
  const stateCell = base + S_STATE;
  let aborted = false;

  /** Announces an operation, sleeps until granted; returns the grant's result. */
  const announce = (op: number, where: number, arg: number, timeout: number): number => {
    if (aborted) throw new ScheduleAborted("schedule aborted");
    cells[base + S_OP] = op;
    cells[base + S_ARG0] = where;
    cells[base + S_ARG1] = arg;
    floats[timeoutIndex(thread)] = timeout;
    Atomics.store(cells, stateCell, ANNOUNCED);
    Atomics.notify(cells, stateCell);
    while (Atomics.load(cells, stateCell) === ANNOUNCED) {
      Atomics.wait(cells, stateCell, ANNOUNCED);
    }
    if (cells[base + S_GRANT] === GRANT_ABORT) {
      aborted = true;
      throw new ScheduleAborted("schedule aborted");
    }
    return cells[base + S_RESULT];
  };

  const hook: SchedulerHook = {
    step(op, where) {
      announce(op, where, 0, 0);
    },
    wait(cell, expected, timeoutMs) {
      return WAIT_RESULTS[announce(OP_WAIT, cell, expected, timeoutMs)];
    },
    notify(cell, count) {
      return announce(OP_NOTIFY, cell, count === Infinity ? -1 : Math.max(0, count | 0), 0);
    },
  };

  const modules = new Map<string, Record<string, unknown>>();
  const realNow = performance.now.bind(performance);
  const virtualNow = () => floats[CLOCK_INDEX];

  for (;;) {
    let state = Atomics.load(cells, stateCell);
    while (state !== START && state !== QUIT) {
      Atomics.wait(cells, stateCell, state);
      state = Atomics.load(cells, stateCell);
    }
    if (state === QUIT) return;
    const { module, fn, args, owner } = readText(control, thread) as {
      module: string;
      fn: string;
      args: unknown[];
      owner: number;
    };
    aborted = false;
    let finish = FINISH_RETURNED;
    let value: unknown = null;
    try {
      let imported = modules.get(module);
      if (imported === undefined) {
        imported = await import(module) as Record<string, unknown>;
        modules.set(module, imported);
      }
      const target = imported[fn];
      if (typeof target !== "function") {
        throw new TypeError(`${module} has no exported function "${fn}"`);
      }
      setCurrentOwnerId(owner);
      performance.now = virtualNow;
      installScheduler(hook);
      value = target(...args);
      if (value instanceof Promise) value = await value;
    } catch (err) {
      if (aborted || err instanceof ScheduleAborted) {
        finish = FINISH_ABORTED;
      } else {
        finish = FINISH_THREW;
        const e = err as Error;
        value = { name: e?.name, message: e?.message ?? String(err), stack: e?.stack };
      }
    } finally {
      installScheduler(null);
      performance.now = realNow;
    }
    try {
      writeText(control, thread, value);
    } catch (err) {
      finish = FINISH_THREW;
      writeText(control, thread, {
        name: "UnserializableResult",
        message: `The thread's result cannot be sent as JSON: ${(err as Error).message}`,
      });
    }
    cells[base + S_FINISH] = finish;
    Atomics.store(cells, stateCell, FINISHED);
    Atomics.notify(cells, stateCell);
  }
}
