/**
 * The ticket sale: a JSON "database" file holds N tickets; 10 buyer workers
 * each try to buy up to 5. With a `Mutex` around each purchase (read, check,
 * write) exactly N tickets are sold. With `--unlocked` the same program
 * oversells: buyers read the same `remaining` and each sells "the last"
 * ticket (lost updates).
 *
 * Run: `deno task example:tickets` and `deno task example:tickets-unlocked`
 * (`deno run -R -W examples/ticket_sale.ts [--unlocked] [--tickets N]`).
 * The last line printed is a JSON summary.
 *
 * @module
 */

import { Event } from "../primitives/event.ts";
import { Mutex } from "../primitives/mutex.ts";
import { isMainThread, WorkerProcess } from "../workers/worker_process.ts";
import { createDatabase, purchase, readDatabase } from "./_tickets.ts";

const BUYERS = 10;
const WANTED = 5;

/** One buyer: waits for the sale to open, then buys up to `wanted` tickets. */
export async function buyer(
  id: number,
  lock: Mutex | null,
  path: string,
  wanted: number,
  open: Event,
  handedOut: Int32Array,
): Promise<void> {
  await open.waitAsync();
  for (let i = 0; i < wanted; i++) {
    const bought = lock === null
      ? await purchase(path, id, 2)
      : await lock.withLockAsync(() => purchase(path, id, 2));
    if (!bought) return;
    Atomics.add(handedOut, 0, 1); // the buyer really got a ticket
  }
}

if (isMainThread()) {
  const unlocked = Deno.args.includes("--unlocked");
  const at = Deno.args.indexOf("--tickets");
  const tickets = at >= 0 ? Number(Deno.args[at + 1]) : 20;
  const path = await createDatabase(tickets);
  const lock = unlocked ? null : new Mutex();
  const open = new Event();
  const handedOut = new Int32Array(new SharedArrayBuffer(4));
  const buyers = Array.from({ length: BUYERS }, (_, id) =>
    new WorkerProcess({
      module: import.meta.url,
      fn: "buyer",
      args: [id, lock, path, WANTED, open, handedOut],
      name: `buyer-${id}`,
    }));
  for (const b of buyers) b.start();
  open.set(); // everyone starts together
  for (const b of buyers) await b.joinAsync();
  for (const b of buyers) if (b.exitCode !== 0) throw b.error ?? new Error(`${b.name} failed`);
  const db = readDatabase(path);
  await Deno.remove(path);
  const sold = Atomics.load(handedOut, 0);
  console.log(
    `${unlocked ? "WITHOUT" : "with"} a lock: ${sold} tickets handed out for ${tickets} ` +
      `(database: ${db.remaining} remaining, ${db.sold.length} sales recorded)` +
      (sold > tickets ? ` -> OVERSOLD by ${sold - tickets}` : ""),
  );
  console.log(JSON.stringify({
    locked: !unlocked,
    tickets,
    handedOut: sold,
    remaining: db.remaining,
    recorded: db.sold.length,
  }));
}
