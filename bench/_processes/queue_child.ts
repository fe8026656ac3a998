/**
 * Child process of `bench/processes.bench.ts`: serves commands from the
 * `control` queue on a pair of data queues (small and 64 KiB messages).
 *
 * Commands (JSON): `{ mode: "sink" | "echo", workload, count, big, many }`
 * and `{ mode: "exit" }`. Sink: get `count` messages from the request queue
 * (with `getMany(many)` when `many` is set), check each (`checkMessage`),
 * then put one acknowledgement (the first failure's text, or an empty
 * message). Echo: check each message and put it
 * straight back on the reply queue, then acknowledge.
 *
 * @module
 */

import { Queue } from "../../primitives/queue.ts";
import { registerRevivable } from "../../workers/revive.ts";
import { processArgs } from "../../workers/process_handle.ts";
import { checkMessage, type Workload } from "../ipc/_messages.ts";

registerRevivable("Queue", Queue.from as never);

interface Command {
  mode: "sink" | "echo" | "exit";
  workload: Workload;
  count: number;
  big: boolean;
  many?: number;
}

const [control, request, reply, bigRequest, bigReply] = processArgs() as [
  Queue<Command>,
  Queue<Uint8Array>,
  Queue<Uint8Array>,
  Queue<Uint8Array>,
  Queue<Uint8Array>,
];
const encoder = new TextEncoder();

for (;;) {
  const command = control.get();
  if (command.mode === "exit") break;
  const input = command.big ? bigRequest : request;
  const output = command.big ? bigReply : reply;
  let error = "";
  if (command.many) {
    for (let i = 0; i < command.count;) {
      for (const message of input.getMany(Math.min(command.many, command.count - i))) {
        if (error === "") {
          try {
            checkMessage(command.workload, message, i);
          } catch (failure) {
            error = `message ${i}: ${failure instanceof Error ? failure.message : failure}`;
          }
        }
        i++;
      }
    }
    output.put(encoder.encode(error));
    continue;
  }
  for (let i = 0; i < command.count; i++) {
    const message = input.get();
    if (error === "") {
      try {
        checkMessage(command.workload, message, i);
      } catch (failure) {
        error = `message ${i}: ${failure instanceof Error ? failure.message : failure}`;
      }
    }
    if (command.mode === "echo") output.put(message);
  }
  output.put(encoder.encode(error));
}
