/**
 * Child process of file_crash_test.ts: runs a fixed workload of batches on
 * a file-backed memory — leased (lease log, checkpoints, a log that fills
 * up) and unleased (journalled write-backs) — and is SIGKILLed at the
 * `crashAt`-th file write (`crashBeforeWrite`). After each batch returns it
 * prints its number on stdout.
 *
 * Each batch `i` stores `i` in cell A (block 0) and `-i` in cell B (block
 * 2); every 10th batch also writes 7,000 bytes of pattern `i` starting in
 * block 1 (a record bigger than a page). Batches 1-99 give the lease up
 * every 7 batches (checkpoints), 100-139 run without a lease (journalled
 * write-backs), and from 140 one lease runs on until its log fills up
 * (retired with a journalled write-back) and on again.
 */
import { crashBeforeWrite, FileMemory, releaseFileLeases } from "../../shm/file_memory.ts";

export const CELL_A = 10;
export const CELL_B = 2_900; // region byte 11,600: file block 2, after the bytes below
export const BLOCK_AT = 4096 + 100;
export const BLOCK_BYTES = 7_000;
export const BATCHES = 240;

/** The bytes batch `i` (a multiple of 10) writes at BLOCK_AT. */
export function pattern(i: number): Uint8Array {
  return Uint8Array.from({ length: BLOCK_BYTES }, (_, k) => (i * 7 + k) & 0xff);
}

if (import.meta.main) {
  const [path, crashAt, tear] = Deno.args;
  const memory = FileMemory.open(path, { leaseMs: 60_000 });
  crashBeforeWrite(Number(crashAt), tear === "tear");
  const out = new TextEncoder();
  for (let i = 1; i <= BATCHES; i++) {
    // Batches 100..139 run without a lease (ordinary journalled write-back).
    if (i === 100) memory.setLease(0);
    if (i === 140) memory.setLease(60_000);
    memory.batch(() => {
      memory.store(CELL_A, i);
      memory.store(CELL_B, -i);
      if (i % 10 === 0) memory.writeBytes(BLOCK_AT, pattern(i));
    });
    Deno.stdout.writeSync(out.encode(`${i}\n`));
    if (i < 100 && i % 7 === 0) releaseFileLeases(); // a checkpoint now and then
  }
  releaseFileLeases();
  Deno.stdout.writeSync(out.encode("done\n"));
}
