/**
 * Child process of `bench/ipc/processes.bench.ts`.
 *
 * `deno run -A _process_child.ts pipe` talks frames on stdin/stdout;
 * `... unix <path>` and `... tcp <port>` connect to the parent's listener.
 * It obeys command frames: SINK (receive `count` messages and check each) and
 * ECHO (check each of `count` messages and send it straight back); after
 * either it sends one ACK with the count received and the first check failure. It exits at end of stream.
 *
 * @module
 */

import { frame, FrameReader, MODE, TAG, writerOf } from "./_frames.ts";
import { checkMessage, WORKLOADS } from "./_messages.ts";

const [transport, address] = Deno.args;
let conn: Deno.Conn | undefined;
if (transport === "unix") conn = await Deno.connect({ transport: "unix", path: address });
else if (transport === "tcp") {
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port: Number(address) });
  tcp.setNoDelay(true);
  conn = tcp;
}
const reader = new FrameReader((into) => (conn ?? Deno.stdin).read(into));
const write = writerOf(conn ?? Deno.stdout);
const encoder = new TextEncoder();

function ack(count: number, error?: string): Uint8Array {
  const text = encoder.encode(error ?? "");
  const payload = new Uint8Array(4 + text.byteLength);
  new DataView(payload.buffer).setUint32(0, count, true);
  payload.set(text, 4);
  return frame(TAG.ACK, payload);
}

for (;;) {
  const command = await reader.next();
  if (command === null) break;
  if (command.tag !== TAG.COMMAND) {
    await write(ack(0, `expected a command frame, got tag ${command.tag}`));
    continue;
  }
  const view = new DataView(command.payload.buffer, command.payload.byteOffset, 12);
  const mode = view.getUint32(0, true);
  const workload = WORKLOADS[view.getUint32(4, true)];
  const count = view.getUint32(8, true);
  let error: string | undefined;
  let received = 0;
  for (; received < count; received++) {
    const message = await reader.next();
    if (message === null) {
      error = `stream ended after ${received} messages`;
      break;
    }
    try {
      if (message.tag !== TAG.DATA) {
        throw new Error(`expected a data frame, got tag ${message.tag}`);
      }
      if (error === undefined) checkMessage(workload, message.payload, received);
    } catch (failure) {
      error ??= String(failure instanceof Error ? failure.message : failure);
    }
    if (mode === MODE.ECHO) await write(frame(TAG.DATA, message.payload));
  }
  await write(ack(received, error));
}
conn?.close();
