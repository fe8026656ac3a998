import assert from "node:assert/strict";
import { SabMemory } from "../shm/sab_memory.ts";
import { checkPlainAndCellCopies } from "./_processes/memory_cases.ts";

Deno.test("sab: plain cell accesses and whole-cell copies (region at offset 0 and at 4)", () => {
  checkPlainAndCellCopies(new SabMemory(64));
  // A region 4 bytes into its buffer: cell parity and 8-byte alignment differ.
  const buffer = new SharedArrayBuffer(72);
  const shifted = new SabMemory(buffer, 4, 64);
  checkPlainAndCellCopies(shifted);
  assert.equal(
    new Int32Array(buffer)[1 + 1],
    shifted.load(1),
    "cell 1 of the region is cell 2 of the buffer",
  );
});

Deno.test("sab: long cell copies (the memcpy path) between aligned and misaligned views", () => {
  const memory = new SabMemory(4 * 1024);
  for (const [at, skew] of [[0, 0], [1, 0], [2, 1], [3, 1]]) {
    const source = Int32Array.from({ length: 600 }, (_, i) => i * 7 - at);
    const input = new Int32Array(601);
    input.set(source, skew);
    memory.writeCells(at, input.subarray(skew, skew + 600));
    const output = new Int32Array(601).subarray(skew, skew + 600);
    memory.readCells(at, output);
    assert.deepEqual(output, source);
  }
});

Deno.test("sab: long byte copies whose alignment differs (staged) keep every byte", () => {
  const memory = new SabMemory(new SharedArrayBuffer(1028), 4, 1024);
  for (const at of [0, 4, 8, 12, 1]) {
    for (const skew of [0, 1, 4, 7]) {
      const source = Uint8Array.from({ length: 100 + skew }, (_, i) => (i * 31 + at) & 0xff)
        .subarray(skew);
      memory.writeBytes(at, source);
      const target = new Uint8Array(100 + skew).subarray(skew);
      memory.readBytes(at, target);
      assert.deepEqual(target, source, `at ${at}, skew ${skew}`);
    }
  }
});
