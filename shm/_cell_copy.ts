/**
 * Plain (unordered) cell accesses for the memories that can address their
 * cells directly (`SabMemory`, `MmapMemory`): single cells
 * (`Memory.loadPlain`/`storePlain`) and whole-cell copies between a
 * memory's own `Int32Array` of cells and a caller's `Int32Array`
 * (`Memory.readCells`/`writeCells`).
 *
 * Why not `target.set(cells.subarray(...))`: for the short runs queues move
 * (tens of cells) the view that `subarray` allocates and V8's generic copy
 * cost more than the copy itself; a loop of plain typed-array accesses is
 * compiled to aligned 32-bit moves and allocates nothing. Long runs, and
 * runs aligned alike on both sides, still go through `set` (a word-by-word
 * copy), where the view's cost is lost in the copy.
 *
 * The accesses are plain, like byte copies (see `Memory.readCells`).
 *
 * @module
 */

/** Runs at least this long are copied with `set` (a memcpy) instead of a loop. */
const LOOP_MAX = 256;
/**
 * Runs at least this long whose two sides are aligned alike modulo 8 are
 * copied into the memory with `set`: V8 copies to and from a shared buffer
 * word by word only then (byte by byte otherwise, slower than the loop).
 */
export const WORD_COPY_IN_MIN = 16;
/**
 * The same threshold for copies out of the memory, which also pay for the
 * `subarray` view of the source: measured here, a 64-cell batch moved
 * between two workers ran 5-10% faster through the loop (the loop and `set`
 * cost the same on one thread, but the view is garbage the consumer's
 * thread collects while the producer waits); from 128 cells on `set` is
 * 2-3x faster.
 */
const ALIGNED_SET_OUT_MIN = 128;

/** Whether `set` between cell `cell` of `cells` and `other` copies word by word. */
function setPays(cells: Int32Array, cell: number, other: Int32Array, alignedMin: number): boolean {
  const length = other.length;
  return length >= LOOP_MAX ||
    (length >= alignedMin && ((cells.byteOffset + cell * 4 - other.byteOffset) & 7) === 0);
}

/** Copies `target.length` cells starting at `cell` of `cells` into `target`. */
export function copyCellsOut(cells: Int32Array, cell: number, target: Int32Array): void {
  const length = target.length;
  if (!(cell >= 0 && cell + length <= cells.length)) throw outsideCells(cell, cells.length, length);
  if (setPays(cells, cell, target, ALIGNED_SET_OUT_MIN)) {
    target.set(cells.subarray(cell, cell + length));
    return;
  }
  for (let i = 0; i < length; i++) target[i] = cells[cell + i];
}

/** Copies `source` into `cells` starting at `cell`. */
export function copyCellsIn(cells: Int32Array, cell: number, source: Int32Array): void {
  const length = source.length;
  if (!(cell >= 0 && cell + length <= cells.length)) throw outsideCells(cell, cells.length, length);
  if (setPays(cells, cell, source, WORD_COPY_IN_MIN)) {
    cells.set(source, cell);
    return;
  }
  for (let i = 0; i < length; i++) cells[cell + i] = source[i];
}

/** Copies at least this long whose alignment differs are staged (see {@linkcode readSharedBytes}). */
const STAGE_MIN = 32;
/** Staging buffer for such copies, and the last view of it handed out (a batch of one size reuses it). */
let stage = new ArrayBuffer(1024);
let staged: Uint8Array | undefined;

/** A view of `length` bytes of the staging buffer, starting `skew` bytes past an 8-byte boundary. */
function staging(skew: number, length: number): Uint8Array {
  if (staged !== undefined && staged.byteOffset === skew && staged.length === length) return staged;
  if (stage.byteLength < length + 8) {
    stage = new ArrayBuffer(Math.max(length + 8, stage.byteLength * 2));
  }
  return (staged = new Uint8Array(stage, skew, length));
}

/**
 * Copies `target.length` bytes at `byteOffset` of `shared` (a view of a
 * SharedArrayBuffer) into `target`. V8 copies to and from a shared buffer
 * word by word only when both sides are aligned alike modulo 8, and byte by
 * byte (about 6x slower) otherwise; so a longer copy whose alignment differs
 * goes through a staging buffer placed like the shared side (an aligned
 * copy, then a plain memcpy).
 */
export function readSharedBytes(shared: Uint8Array, byteOffset: number, target: Uint8Array): void {
  const from = shared.subarray(byteOffset, byteOffset + target.length);
  const skew = from.byteOffset & 7;
  if (target.length < STAGE_MIN || ((target.byteOffset - skew) & 7) === 0) {
    target.set(from);
    return;
  }
  const view = staging(skew, target.length);
  view.set(from);
  target.set(view);
}

/** Copies `source` into `shared` at `byteOffset` (see {@linkcode readSharedBytes}). */
export function writeSharedBytes(shared: Uint8Array, byteOffset: number, source: Uint8Array): void {
  const skew = (shared.byteOffset + byteOffset) & 7;
  if (source.length < STAGE_MIN || ((source.byteOffset - skew) & 7) === 0) {
    shared.set(source, byteOffset);
    return;
  }
  const view = staging(skew, source.length);
  view.set(source);
  shared.set(view, byteOffset);
}

/** An unordered read of cell `cell` (see `Memory.loadPlain`); RangeError outside. */
export function loadPlainCell(cells: Int32Array, cell: number): number {
  const value = cells[cell];
  if (value === undefined) throw outsideCells(cell, cells.length);
  return value;
}

/** An unordered write of cell `cell` (see `Memory.storePlain`); RangeError outside. */
export function storePlainCell(cells: Int32Array, cell: number, value: number): void {
  if (!(cell >= 0 && cell < cells.length)) throw outsideCells(cell, cells.length);
  cells[cell] = value;
}

/** The error for cells `[cell, cell + length)` outside a memory of `cells` cells. */
export function outsideCells(cell: number, cells: number, length: number = 1): RangeError {
  return new RangeError(
    `Cells [${cell}, ${cell + length}) are outside a memory of ${cells} cells`,
  );
}
