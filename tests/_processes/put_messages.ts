/** The self-checking messages of the put-until-killed test. */

/** Size of every message. */
export const MESSAGE_BYTES = 200;

function checksum(bytes: Uint8Array, length: number): number {
  let sum = 0x811c9dc5;
  for (let k = 0; k < length; k++) sum = Math.imul(sum ^ bytes[k], 0x01000193);
  return sum | 0;
}

/** Message `i`. */
export function message(i: number): Uint8Array {
  const bytes = new Uint8Array(MESSAGE_BYTES);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, i, true);
  for (let k = 4; k < MESSAGE_BYTES - 4; k++) bytes[k] = (i * 31 + k) & 0xff;
  view.setInt32(MESSAGE_BYTES - 4, checksum(bytes, MESSAGE_BYTES - 4), true);
  return bytes;
}

/** Throws unless `bytes` is exactly message `i`. */
export function checkMessage(bytes: Uint8Array, i: number): void {
  if (bytes.length !== MESSAGE_BYTES) {
    throw new Error(`message ${i}: ${bytes.length} bytes instead of ${MESSAGE_BYTES}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const seq = view.getUint32(0, true);
  if (seq !== i) throw new Error(`expected message ${i}, got ${seq}`);
  if (view.getInt32(MESSAGE_BYTES - 4, true) !== checksum(bytes, MESSAGE_BYTES - 4)) {
    throw new Error(`message ${i} is torn (checksum mismatch)`);
  }
  const expected = message(i);
  for (let k = 0; k < MESSAGE_BYTES; k++) {
    if (bytes[k] !== expected[k]) throw new Error(`message ${i} differs at byte ${k}`);
  }
}
