/** Functions run by tests/pool_test.ts in pool workers. */
import type { Event } from "../../primitives/event.ts";
import { Mutex } from "../../primitives/mutex.ts";
import { workerInfo } from "../../workers/worker_process.ts";

let initialized: Int32Array | undefined;

/** Initializer: keeps a shared counter and counts the workers started. */
export function init(counter: Int32Array): void {
  initialized = counter;
  Atomics.add(counter, 0, 1);
}

/** Initializer that fails. */
export function badInit(): void {
  throw new Error("initializer failed");
}

/** Returns how many workers have run the initializer so far. */
export function initCount(): number {
  return Atomics.load(initialized!, 0);
}

/** x². */
export function square(x: number): number {
  return x * x;
}

/** a + b. */
export function add(a: number, b: number): number {
  return a + b;
}

/** Identity (round-trips structured values). */
export function identity<T>(x: T): T {
  return x;
}

/** Returns nothing. */
export function nothing(): void {}

/** Resolves with `value` after `ms` (an async task). */
export async function sleepy(ms: number, value: number): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return value;
}

/** Item 0 is slow: imap must still yield in input order. */
export async function slowFirst(x: number): Promise<number> {
  if (x === 0) await new Promise((resolve) => setTimeout(resolve, 300));
  return x;
}

/** Throws a RangeError for x === 3. */
export function failOn3(x: number): number {
  if (x === 3) throw new RangeError(`bad item ${x}`);
  return x;
}

/** Returns a value that cannot be serialized. */
export function unserializable(): unknown {
  return () => 1;
}

/** Crashes its worker (an uncaught error outside the task) and never finishes. */
export function crash(): Promise<never> {
  setTimeout(() => {
    throw new Error("worker crashed");
  }, 0);
  return new Promise<never>(() => {});
}

/** Blocks on an event passed through... (never set): for terminate tests. */
export function blockForever(): void {
  const never = new Int32Array(new SharedArrayBuffer(4));
  // A raw Atomics.wait is not interruptible: use the module's memory wait instead.
  void never;
  (globalThis as { __event?: Event }).__event!.wait();
}

/** Initializer storing an event for blockForever. */
export function keepEvent(event: Event): void {
  (globalThis as { __event?: Event }).__event = event;
}

/** The id of the worker running the task. */
export function whoAmI(): number {
  return workerInfo()!.id;
}

/** Busy work for about `ms`. */
export function busy(ms: number): number {
  const end = performance.now() + ms;
  let n = 0;
  while (performance.now() < end) n++;
  return n;
}

/** x * 2, except: x % 17 === 5 crashes its worker; x % 13 === 3 throws. */
export function maybeCrash(x: number): number | Promise<never> {
  if (x % 17 === 5) return crash();
  if (x % 13 === 3) throw new RangeError(`fail ${x}`);
  return x * 2;
}

/** Sleeps `ms`, then returns the id of the worker that ran it. */
export async function sleepyWho(ms: number): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return workerInfo()!.id;
}

/** A string of `n` characters (its encoding is n + 2 bytes of JSON). */
export function bigResult(n: number): string {
  return "x".repeat(n);
}

/** Throws an error whose message is `n` characters long. */
export function bigError(n: number): never {
  throw new Error("e".repeat(n));
}

/** Returns a primitive, which a result cannot carry. */
export function returnMutex(): Mutex {
  return new Mutex();
}

/** Throws a plain object with a string message and a code. */
export function throwObject(): never {
  throw { code: 42, message: "obj msg" };
}

/** An error subclass that does not set `name`, with own data properties. */
export class CustomError extends Error {
  /** A cloneable property: carried. */
  code = 7;
  /** Structured data: carried. */
  detail = { retry: [1, 2], at: new Date(0) };
  /** A function cannot be cloned: dropped. */
  callback = () => 1;
}

/** Throws a {@linkcode CustomError}. */
export function throwCustom(): never {
  throw new CustomError("custom msg");
}

/** Ends the worker thread with `Deno.exit(code)` in the middle of the task. */
export function denoExit(code: number): void {
  Deno.exit(code);
}
