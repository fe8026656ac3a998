/**
 * Child process: opens the named Mutex at the absolute path given as its
 * first argument and prints "opened <backend>", or the error's name and
 * message (so the parent can check what a process with fewer permissions
 * is told).
 */
import { Mutex } from "../../primitives/mutex.ts";
import { openShared, sharedInfo } from "../../shm/named.ts";

const path = Deno.args[0];
try {
  const mutex = openShared(Mutex, path, { create: "never" });
  console.log(`opened ${sharedInfo(mutex).backend}`);
} catch (error) {
  const e = error as Error;
  console.log(`${e.name}: ${e.message}`);
}
