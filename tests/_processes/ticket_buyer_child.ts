/**
 * Child process: one buyer of the ticket sale (examples/ticket_sale.ts) as
 * a separate OS process. Waits for the sale to open, then buys up to
 * `wanted` tickets, each purchase (read, check, think, write the JSON
 * database) under the named mutex; counts each ticket it got in `handedOut`.
 */
import type { Event } from "../../primitives/event.ts";
import type { Mutex } from "../../primitives/mutex.ts";
import type { SharedValue } from "../../primitives/shared_value.ts";
import { purchase } from "../../examples/_tickets.ts";
import { processArgs } from "../../workers/process_handle.ts";

const [id, lock, path, wanted, open, handedOut] = processArgs() as [
  number,
  Mutex,
  string,
  number,
  Event,
  SharedValue,
];
if (!(await open.waitAsync({ timeout: 30_000 }))) Deno.exit(3);
for (let i = 0; i < wanted; i++) {
  const bought = await lock.withLockAsync(() => purchase(path, id, 2));
  if (!bought) break;
  handedOut.add(1);
}
