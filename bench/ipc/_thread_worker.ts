/// <reference lib="deno.worker" />
/**
 * Worker side of `bench/ipc/threads.bench.ts`. Commands arrive on `self`:
 *
 * - `{ cmd: "port", port }`: keep a MessageChannel port for data.
 * - `{ cmd: "sink", workload, n, via }`: receive `n` messages on `via`
 *   (`"self"` or `"port"`), check each, then post `{ done: n }` to main.
 * - `{ cmd: "echo", workload, n, via, transfer }`: check and send back each
 *   of `n` messages on the channel it came from (transferring its buffer if
 *   `transfer`), then post `{ done: n }` to main.
 * - `{ cmd: "send", workload, n }`: send `n` messages on the port.
 * - `{ cmd: "ping", workload, n }`: `n` round trips on the port (send, wait
 *   for the echo, check it), then post `{ done: n }` to main.
 *
 * `sink` and `echo` answer `{ ready: true }` once they listen.
 * A failed check is posted as `{ error }` to main, which fails the bench.
 *
 * @module
 */

import {
  blockSize,
  checkMessage,
  checkValue,
  makeBlock,
  makeValue,
  type Workload,
} from "./_messages.ts";

let port: MessagePort | undefined;
type Handler = (data: unknown) => void;
let onSelf: Handler | undefined;
let onPort: Handler | undefined;

function fail(error: unknown): void {
  onSelf = undefined;
  onPort = undefined;
  self.postMessage({ error: String(error instanceof Error ? error.message : error) });
}

/** Checks a received message: transferred messages are bytes (JSON encoded as UTF-8). */
function check(workload: Workload, data: unknown, i: number, transfer: boolean): void {
  if (transfer) checkMessage(workload, data as Uint8Array, i);
  else checkValue(workload, data, i);
}

function receiver(
  workload: Workload,
  n: number,
  transfer: boolean,
  onEach: (data: unknown, i: number) => void,
): Handler {
  let i = 0;
  return (data) => {
    try {
      check(workload, data, i, transfer);
      onEach(data, i);
      if (++i === n) {
        onSelf = undefined;
        onPort = undefined;
        self.postMessage({ done: n });
      }
    } catch (error) {
      fail(error);
    }
  };
}

self.onmessage = (event: MessageEvent) => {
  const data = event.data;
  if (onSelf) return onSelf(data);
  const { cmd, workload, n, via, transfer } = data as {
    cmd: string;
    workload: Workload;
    n: number;
    via: "self" | "port";
    transfer: boolean;
  };
  const target = via === "port" ? port! : self;
  // Handlers are installed before main is told (by `{ ready }`) that data may
  // flow: messages on a port and on `self` are not ordered with each other.
  const install = (handler: Handler): void => {
    if (via === "port") onPort = handler;
    else onSelf = handler;
    self.postMessage({ ready: true });
  };
  switch (cmd) {
    case "port":
      port = data.port as MessagePort;
      port.onmessage = (message) => onPort?.(message.data);
      return;
    case "sink":
      return install(receiver(workload, n, transfer, () => {}));
    case "echo":
      return install(receiver(workload, n, transfer, (message) => {
        if (transfer) target.postMessage(message, [(message as Uint8Array<ArrayBuffer>).buffer]);
        else target.postMessage(message);
      }));
    case "send": {
      const scratch = workload === "b64" || workload === "b64k"
        ? makeBlock(blockSize(workload), 0)
        : undefined;
      for (let i = 0; i < n; i++) port!.postMessage(makeValue(workload, i, scratch));
      return;
    }
    case "ping": {
      let i = 0;
      onPort = (message) => {
        try {
          checkValue(workload, message, i);
          if (++i === n) {
            onPort = undefined;
            self.postMessage({ done: n });
          } else {
            port!.postMessage(makeValue(workload, i));
          }
        } catch (error) {
          fail(error);
        }
      };
      port!.postMessage(makeValue(workload, 0));
      return;
    }
  }
};
