/**
 * Where received byte messages are allocated.
 *
 * A fresh `Uint8Array` costs a new `ArrayBuffer` (about 0.2 µs here, more
 * under GC pressure: more than the whole ring transfer); a view on an
 * existing buffer costs a tenth of that. So, like Node's `Buffer` pool,
 * messages up to {@linkcode POOLED_MAX} bytes are views into a shared 64 KiB
 * `ArrayBuffer` slab, handed out once each and never reused: a message stays
 * valid (and its slab stays alive) for as long as it is referenced.
 *
 * Consequence for users: a small received message's `.buffer` is the slab,
 * larger than the message. Copy it (`message.slice()`) before transferring
 * its buffer or relying on `byteOffset === 0`.
 *
 * @module
 */

const SLAB_BYTES = 64 * 1024;
/** Messages up to this size come from the pool; longer ones get their own buffer. */
export const POOLED_MAX = 1024;

let slab = new ArrayBuffer(SLAB_BYTES);
let used = 0;

/** A zero-filled (or about to be overwritten) array of `length` bytes, pooled when small. */
export function allocateBytes(length: number): Uint8Array {
  if (length > POOLED_MAX) return new Uint8Array(length);
  if (used + length > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    used = 0;
  }
  const bytes = new Uint8Array(slab, used, length);
  used = (used + length + 7) & ~7; // keep views 8-byte aligned
  return bytes;
}
