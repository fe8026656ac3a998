/**
 * Child process for the process handle tests. First argument: what to do.
 * - ["echo", value]: prints JSON of its arguments after the first and exits 0.
 * - ["exit", code]: exits with `code`.
 * - ["throw"]: throws (exit code 1).
 * - ["sleep", event]: sets the event, then sleeps until killed.
 * - ["write", path]: tries to write `path` (exit 0 if it could, 7 if not permitted).
 */
import type { Event } from "../../primitives/event.ts";
import { processArgs } from "../../workers/process_handle.ts";

const args = processArgs();
switch (args[0]) {
  case "echo":
    console.log(JSON.stringify(args.slice(1)));
    break;
  case "exit":
    Deno.exit(args[1] as number);
    break;
  case "throw":
    throw new Error("failing on purpose");
  case "sleep":
    (args[1] as Event).set();
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
    break;
  case "write":
    try {
      Deno.writeTextFileSync(args[1] as string, "x");
    } catch (error) {
      if (error instanceof Deno.errors.NotCapable) Deno.exit(7);
      throw error;
    }
    break;
}
