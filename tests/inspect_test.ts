import assert from "node:assert/strict";
import { inspect } from "node:util";
import {
  Barrier,
  Condition,
  Event,
  JoinableQueue,
  Mutex,
  Queue,
  RecursiveMutex,
  RingBuffer,
  Semaphore,
} from "../mod.ts";

Deno.test("inspect: primitives show their kind and current state (like Python's repr)", () => {
  const mutex = new Mutex();
  assert.equal(Deno.inspect(mutex), "Mutex { locked: false, ownerDied: false }");
  mutex.lock();
  assert.equal(Deno.inspect(mutex), "Mutex { locked: true, ownerDied: false }");
  assert.equal(inspect(mutex), Deno.inspect(mutex), "node:util agrees");
  assert.equal(
    Deno.inspect({ guarded: mutex }),
    "{ guarded: Mutex { locked: true, ownerDied: false } }",
  );
  mutex.unlock();

  const recursive = new RecursiveMutex();
  recursive.lock();
  recursive.lock();
  assert.equal(
    Deno.inspect(recursive),
    "RecursiveMutex { locked: true, depth: 2, ownerDied: false }",
  );

  const semaphore = new Semaphore(2, { bounded: true });
  semaphore.acquire();
  assert.equal(Deno.inspect(semaphore), "Semaphore { value: 1, bounded: true }");

  const event = new Event();
  event.set();
  assert.equal(Deno.inspect(event), "Event { set: true }");

  const condition = new Condition();
  condition.lock();
  assert.equal(Deno.inspect(condition), "Condition { locked: true }");
  condition.unlock();

  const barrier = new Barrier(3);
  barrier.abort();
  assert.equal(Deno.inspect(barrier), "Barrier { parties: 3, waiting: 0, broken: true }");

  const queue = new Queue<number>(4, { codec: "number" });
  queue.put(1);
  queue.close();
  assert.equal(Deno.inspect(queue), "Queue { size: 1, capacity: 4, closed: true }");

  const joinable = new JoinableQueue<number>(2, { codec: "number" });
  joinable.put(1);
  joinable.get();
  assert.equal(
    Deno.inspect(joinable),
    "JoinableQueue { size: 0, capacity: 2, unfinishedTasks: 1, closed: false }",
  );

  const ring = new RingBuffer(64);
  ring.push(new Uint8Array(3));
  assert.equal(Deno.inspect(ring), "RingBuffer { usedBytes: 8, capacity: 64, closed: false }");
});
