/**
 * The "other process" of the Redis tests: `worker.ts <mode> <url> <name> ...`.
 * Prints one JSON object per line; the parent reads them with `_child.ts`.
 */

import { RedisQueue } from "../../../redis/queue.ts";
import { RedisJoinableQueue } from "../../../redis/joinable_queue.ts";
import { RedisMutex } from "../../../redis/mutex.ts";
import { RedisSemaphore } from "../../../redis/semaphore.ts";
import { QueueClosedError } from "../../../primitives/errors.ts";

const [mode, url, name, ...rest] = Deno.args;
const say = (value: Record<string, unknown>): void => console.log(JSON.stringify(value));
const forever = (): Promise<never> => new Promise(() => setInterval(() => {}, 1 << 30));

switch (mode) {
  // Puts [producer, i] for i < count, in order.
  case "produce": {
    const [producer, count, batch] = rest.map(Number);
    const queue = await RedisQueue.open<[number, number]>(url, name);
    if (batch > 1) {
      for (let i = 0; i < count; i += batch) {
        const items: [number, number][] = [];
        for (let j = i; j < Math.min(count, i + batch); j++) items.push([producer, j]);
        await queue.putMany(items);
      }
    } else {
      for (let i = 0; i < count; i++) await queue.putAsync([producer, i]);
    }
    say({ done: count });
    await queue.disconnect();
    break;
  }
  // Gets until the queue is closed and drained; reports what it got.
  case "consume": {
    const queue = await RedisQueue.open<[number, number]>(url, name);
    const got: [number, number][] = [];
    try {
      for (;;) got.push(...await queue.getMany(50));
    } catch (err) {
      if (!(err instanceof QueueClosedError)) throw err;
    }
    say({ got });
    await queue.disconnect();
    break;
  }
  // Takes one item of a joinable queue, reports it, never acknowledges.
  case "take-and-hang": {
    const visibility = Number(rest[0]);
    const queue = await RedisJoinableQueue.open(url, name, { visibilityTimeout: visibility });
    const item = await queue.getAsync({ timeout: 10_000 });
    say({ item });
    await forever();
    break;
  }
  // Takes the lock and holds it forever.
  case "hold-lock": {
    const mutex = await RedisMutex.open(url, name, { lease: Number(rest[0]) });
    const guard = await mutex.acquireAsync({ timeout: 10_000 });
    say({ locked: true, fence: guard.fencingToken });
    await forever();
    break;
  }
  // n increments of a plain (GET then SET) counter under the lock.
  case "count-under-lock": {
    const [n, lease] = rest.map(Number);
    const mutex = await RedisMutex.open(url, name, { lease });
    const { Redis } = await import("../../../redis/_ioredis.ts");
    const raw = new Redis(url);
    const fences: number[] = [];
    for (let i = 0; i < n; i++) {
      await mutex.withLockAsync(async () => {
        fences.push(mutex.fencingToken!);
        const value = Number(await raw.get(`${name}:counter`) ?? 0);
        await raw.set(`${name}:counter`, value + 1);
      });
    }
    say({ fences });
    raw.disconnect();
    await mutex.disconnect();
    break;
  }
  // Takes `permits` permits and holds them forever.
  case "hold-permits": {
    const [permits, lease] = rest.map(Number);
    const sem = await RedisSemaphore.open(url, name, { lease });
    for (let i = 0; i < permits; i++) await sem.acquireAsync({ timeout: 10_000 });
    say({ held: permits });
    await forever();
    break;
  }
  // rounds x (acquire, count how many are inside, release).
  case "sem-worker": {
    const [rounds] = rest.map(Number);
    const sem = await RedisSemaphore.open(url, name);
    const { Redis } = await import("../../../redis/_ioredis.ts");
    const raw = new Redis(url);
    let maxInside = 0;
    for (let i = 0; i < rounds; i++) {
      await sem.withPermitAsync(async () => {
        const inside = await raw.incr(`${name}:inside`);
        maxInside = Math.max(maxInside, inside);
        await raw.incr(`${name}:entries`);
        await raw.decr(`${name}:inside`);
      });
    }
    say({ maxInside });
    raw.disconnect();
    await sem.disconnect();
    break;
  }
  default:
    throw new Error(`unknown mode ${mode}`);
}
