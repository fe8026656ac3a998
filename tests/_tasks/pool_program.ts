/**
 * A main program that uses a Pool and never closes it (run by
 * tests/workers_program_test.ts): pool workers are daemons, so the program
 * still ends once its own work is done.
 */
import { isMainThread } from "../../workers/worker_process.ts";
import { Pool } from "../../workers/pool.ts";

/** x². */
export function square(x: number): number {
  return x * x;
}

if (isMainThread()) {
  const pool = new Pool({ module: import.meta.url, size: 2 });
  console.log(JSON.stringify(await pool.map("square", [1, 2, 3])));
  pool.applyAsync("square", [4], { callback: (v) => console.log(`callback ${v}`) });
}
