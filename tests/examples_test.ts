/**
 * The classic programs in examples/, each run as its own `deno run` (as the
 * `deno task example:*` lines do) and checked by its outcome.
 */
import assert from "node:assert/strict";

const EXAMPLES = new URL("../examples/", import.meta.url);

async function runExample(file: string, args: string[] = []): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-R", "-W", new URL(file, EXAMPLES).pathname, ...args],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `${file} failed:\n${stderr}`);
  return new TextDecoder().decode(out.stdout).trim().split("\n");
}

const T = { timeout: 90_000 };

Deno.test({
  name: "example producer/consumer with a sentinel: every item arrives once",
  ...T,
  fn: async () => {
    const lines = await runExample("producer_consumer.ts", ["500"]);
    assert.deepEqual(lines, ["consumer got 500 items, sum 124750 (expected 500, 124750)"]);
  },
});

Deno.test({
  name: "example JoinableQueue: 3 producers, 2 daemon consumers, main ends after join()",
  ...T,
  fn: async () => {
    const lines = await runExample("joinable_queue.ts");
    assert.deepEqual(lines, [
      "all 30 items processed; per producer checksums 55, 55, 55",
      "main ends; the daemon consumers stop with it",
    ]);
  },
});

Deno.test({
  name: "example ticket sale: with the lock exactly N are sold; without it, oversold",
  ...T,
  fn: async () => {
    const locked = JSON.parse((await runExample("ticket_sale.ts", ["--tickets", "20"])).at(-1)!);
    assert.deepEqual(locked, {
      locked: true,
      tickets: 20,
      handedOut: 20,
      remaining: 0,
      recorded: 20,
    });
    const unlocked = JSON.parse(
      (await runExample("ticket_sale.ts", ["--unlocked", "--tickets", "20"])).at(-1)!,
    );
    assert.equal(unlocked.locked, false);
    assert.ok(unlocked.handedOut > 20, `oversold: ${JSON.stringify(unlocked)}`);
    assert.ok(unlocked.recorded < unlocked.handedOut, "lost updates in the database");
  },
});

Deno.test({
  name: "example lock granularity: coarse and fine locks sell exactly N (times reported)",
  ...T,
  fn: async () => {
    const summary = JSON.parse((await runExample("lock_granularity.ts", ["30"])).at(-1)!);
    for (const run of [summary.coarse, summary.fine]) {
      assert.deepEqual(
        { handedOut: run.handedOut, remaining: run.remaining, recorded: run.recorded },
        { handedOut: 30, remaining: 0, recorded: 30 },
      );
      assert.equal(typeof run.ms, "number");
    }
  },
});
