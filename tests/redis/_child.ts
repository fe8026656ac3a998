/**
 * Runs `tests/redis/_scripts/worker.ts` in a separate Deno process and reads
 * its JSON-lines output: the tests' "other machine".
 */

const WORKER = new URL("./_scripts/worker.ts", import.meta.url).pathname;

/** A running worker process. */
export interface Child {
  readonly pid: number;
  /** The next JSON line it printed (rejects if it exits first or after `timeout` ms). */
  next(timeout?: number): Promise<Record<string, unknown>>;
  /** Every line until it exits, then its exit code. */
  finish(timeout?: number): Promise<{ lines: Record<string, unknown>[]; code: number }>;
  /** SIGKILL, then wait for the exit. */
  kill(): Promise<void>;
}

/** Starts `worker.ts <mode> ...args`. */
export function spawnWorker(mode: string, ...args: (string | number)[]): Child {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-env", "--allow-read", WORKER, mode, ...args.map(String)],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: Record<string, unknown>[] = [];
  const waiters: (() => void)[] = [];
  let ended = false;
  const stderrText = new Response(child.stderr).text();
  const pump = (async () => {
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of child.stdout) {
      buffer += decoder.decode(chunk, { stream: true });
      let nl;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (line) lines.push(JSON.parse(line));
        waiters.splice(0).forEach((w) => w());
      }
    }
    ended = true;
    waiters.splice(0).forEach((w) => w());
  })();
  let read = 0;
  const status = child.status;

  const withTimeout = <T>(promise: Promise<T>, ms: number, what: string): Promise<T> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    return Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`worker ${mode}: ${what} timed out (${ms} ms)`)),
          ms,
        );
      }),
    ]).finally(() => clearTimeout(timer));
  };

  return {
    pid: child.pid,
    next(timeout = 20_000) {
      const take = async (): Promise<Record<string, unknown>> => {
        while (read >= lines.length) {
          if (ended) {
            await status;
            throw new Error(
              `worker ${mode} exited without more output; stderr:\n${await stderrText}`,
            );
          }
          await new Promise<void>((resolve) => waiters.push(resolve));
        }
        return lines[read++];
      };
      return withTimeout(take(), timeout, "next line");
    },
    async finish(timeout = 30_000) {
      const { code } = await withTimeout(status, timeout, "exit").catch(async (err) => {
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
        await status;
        throw err;
      });
      await pump;
      if (code !== 0) {
        throw new Error(`worker ${mode} exited with ${code}; stderr:\n${await stderrText}`);
      }
      await stderrText;
      return { lines, code };
    },
    async kill() {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      await status;
      await pump;
      await stderrText;
    },
  };
}
