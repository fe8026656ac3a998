/**
 * Child process: takes the condition's lock, sets `ready`, waits up to
 * `timeout` ms; exits 0 if notified, 5 if the wait timed out.
 */
import type { Condition } from "../../primitives/condition.ts";
import type { Event } from "../../primitives/event.ts";
import { processArgs } from "../../workers/process_handle.ts";

const [condition, ready, timeout] = processArgs() as [Condition, Event, number];
if (!condition.lock({ timeout: 20_000 })) Deno.exit(3);
ready.set();
const notified = condition.wait({ timeout });
condition.unlock();
Deno.exit(notified ? 0 : 5);
