/**
 * The ticket "database" shared by `ticket_sale.ts` and `lock_granularity.ts`:
 * a JSON file `{ remaining, sold: [buyer ids] }` that buyers read, modify and
 * write back: a read-modify-write that is only correct under a lock.
 *
 * @module
 */

/** The database content. */
export interface TicketDatabase {
  /** Tickets not yet sold. */
  remaining: number;
  /** One entry (the buyer's id) per recorded sale. */
  sold: number[];
}

/** Creates a database of `tickets` tickets in a fresh temporary file; returns its path. */
export async function createDatabase(tickets: number): Promise<string> {
  const path = await Deno.makeTempFile({ prefix: "tickets-", suffix: ".json" });
  const db: TicketDatabase = { remaining: tickets, sold: [] };
  await Deno.writeTextFile(path, JSON.stringify(db));
  return path;
}

/** Reads the database. */
export function readDatabase(path: string): TicketDatabase {
  return JSON.parse(Deno.readTextFileSync(path));
}

/** Sleeps `ms` (a slow step: think time, payment processing). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Buys one ticket: read, check, (think), write. Returns whether a ticket was
 * bought. Without a lock around it, two buyers can read the same
 * `remaining` and both sell "the last" ticket.
 */
export async function purchase(path: string, buyer: number, thinkMs: number): Promise<boolean> {
  const db = readDatabase(path);
  if (db.remaining <= 0) return false;
  await sleep(thinkMs);
  db.remaining -= 1;
  db.sold.push(buyer);
  // Write a new file and rename it over the old one: readers always see a
  // whole file (an old or a new version), never a half-written one.
  const next = `${path}.${buyer}.tmp`;
  Deno.writeTextFileSync(next, JSON.stringify(db));
  Deno.renameSync(next, path);
  return true;
}
