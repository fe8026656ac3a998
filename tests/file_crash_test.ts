/**
 * Crash safety of the file-backed memory at every write: a child process
 * runs a fixed workload (file_crash_child.ts) and is SIGKILLed at its k-th
 * file write — between two writes, or (torn) in the middle of a write that
 * spans pages, as the kernel may stop a pwrite between pages. Whatever k,
 * the next process to open the file must find a state made of whole
 * batches in order (cells A and B of one batch together, and the block of
 * the last 10th batch whole), holding every batch whose call returned.
 */
import assert from "node:assert/strict";
import { FileMemory } from "../shm/file_memory.ts";
import { JOURNAL_CELL, LOG_CELL } from "../shm/_shared_file.ts";
import { withMemory } from "./_processes/memory_cases.ts";
import { BLOCK_AT, BLOCK_BYTES, CELL_A, CELL_B, pattern } from "./_processes/file_crash_child.ts";

const CHILD = new URL("./_processes/file_crash_child.ts", import.meta.url);
const REGION_BYTES = 3 * 4096;

/** Runs the child, killed at write `crashAt`; returns the last batch it reported returned (Infinity: it finished). */
async function run(path: string, crashAt: number, tear: boolean): Promise<number> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-run",
      CHILD.pathname,
      path,
      String(crashAt),
      tear ? "tear" : "",
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const lines = new TextDecoder().decode(output.stdout).trim().split("\n").filter(Boolean);
  if (lines.at(-1) === "done") return Infinity;
  assert.equal(output.signal, "SIGKILL", `the child was killed at write ${crashAt}`);
  return lines.length === 0 ? 0 : Number(lines.at(-1));
}

Deno.test({
  name:
    "file: SIGKILL at any write (between writes, or inside a multi-page one) loses no returned batch and tears none",
  timeout: 120_000,
  async fn() {
    // Crash points: every write of the first 40, then every 7th to the end.
    const points = [
      ...Array.from({ length: 40 }, (_, k) => k + 1),
      ...Array.from({ length: 100 }, (_, k) => 41 + 7 * k),
    ];
    let killed = 0;
    for (const [index, crashAt] of points.entries()) {
      const [memory, path] = withMemory("file", REGION_BYTES, (p) => FileMemory.open(p));
      memory.close();
      try {
        const tear = index % 2 === 1;
        const returned = await run(path, crashAt, tear);
        if (returned === Infinity) break; // past the workload's last write
        killed++;
        const reopened = FileMemory.open(path);
        try {
          const a = reopened.load(CELL_A);
          assert.equal(
            reopened.load(CELL_B),
            (-a) | 0,
            `crash at write ${crashAt}: cells of one batch`,
          );
          assert.ok(
            a === returned || a === returned + 1,
            `crash at write ${crashAt}${
              tear ? " (torn)" : ""
            }: batch ${a} in the file, ${returned} returned`,
          );
          const block = new Uint8Array(BLOCK_BYTES);
          reopened.readBytes(BLOCK_AT, block);
          const last = a - (a % 10);
          assert.deepEqual(block, last === 0 ? new Uint8Array(BLOCK_BYTES) : pattern(last));
        } finally {
          reopened.close();
        }
        const raw = new DataView(Deno.readFileSync(path).buffer);
        assert.equal(raw.getInt32(LOG_CELL * 4, true), 0, "the lease log was retired");
        assert.equal(raw.getInt32(JOURNAL_CELL * 4, true), 0, "the journal was finished");
      } finally {
        Deno.removeSync(path);
      }
    }
    assert.ok(killed >= 80, `the child was killed mid-workload ${killed} times`);
  },
});
