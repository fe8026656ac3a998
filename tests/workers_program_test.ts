/**
 * Whole programs in child `deno run` processes: daemon semantics (a daemon
 * does not keep the program alive; a non-daemon is waited for), and the
 * library imported from a remote URL (served over loopback HTTP, as when it
 * is installed from JSR).
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

/** Imports from mod.ts once it exports the worker handle; from the files until then. */
function imports(base: string): string {
  const mod = Deno.readTextFileSync(new URL("mod.ts", ROOT));
  if (mod.includes("WorkerProcess")) {
    return `import { isMainThread, Mutex, WorkerProcess } from "${base}mod.ts";`;
  }
  return `import { isMainThread, WorkerProcess } from "${base}workers/worker_process.ts";
import { Mutex } from "${base}primitives/mutex.ts";`;
}

async function runDeno(args: string[], ms: number): Promise<Deno.CommandOutput> {
  const signal = AbortSignal.timeout(ms);
  return await new Deno.Command(Deno.execPath(), {
    args,
    stdout: "piped",
    stderr: "piped",
    signal,
  }).output();
}

Deno.test({
  name: "WorkerProcess: PR-7 a daemon does not keep the program alive; a non-daemon is waited for",
  timeout: 30_000,
  fn: async () => {
    const program = new URL("./_tasks/daemon_program.ts", import.meta.url);
    const out = await runDeno(["run", "-R", program.pathname], 20_000);
    const stdout = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.deepEqual(stdout.trim().split("\n"), ["main done", "non-daemon done"]);
  },
});

Deno.test({
  name:
    "Pool: a program that never closes its pool still ends (workers are daemons), callbacks delivered",
  timeout: 30_000,
  fn: async () => {
    const program = new URL("./_tasks/pool_program.ts", import.meta.url);
    const out = await runDeno(["run", "-R", program.pathname], 20_000);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.deepEqual(new TextDecoder().decode(out.stdout).trim().split("\n"), [
      "[1,4,9]",
      "callback 16",
    ]);
  },
});

Deno.test({
  name: "WorkerProcess: works when the library is imported from http:// (loopback server)",
  timeout: 60_000,
  fn: async () => {
    const stop = new AbortController();
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, signal: stop.signal, onListen() {} },
      async (request) => {
        const path = new URL(request.url).pathname;
        if (path.includes("..")) return new Response("bad path", { status: 400 });
        try {
          const body = await Deno.readFile(new URL(`.${path}`, ROOT));
          return new Response(body, { headers: { "content-type": "application/typescript" } });
        } catch {
          return new Response("not found", { status: 404 });
        }
      },
    );
    const dir = await Deno.makeTempDir();
    try {
      const host = `127.0.0.1:${server.addr.port}`;
      const base = `http://${host}/`;
      const file = `${dir}/remote_program.ts`;
      await Deno.writeTextFile(
        file,
        `${imports(base)}

export function work(lock: Mutex, counter: Int32Array, n: number): void {
  if (!(lock instanceof Mutex)) throw new TypeError("not revived");
  for (let i = 0; i < n; i++) lock.withLock(() => counter[0]++);
}

if (isMainThread()) {
  const lock = new Mutex();
  const counter = new Int32Array(new SharedArrayBuffer(4));
  const workers = [1, 2].map(() =>
    new WorkerProcess({ module: import.meta.url, fn: "work", args: [lock, counter, 200] })
  );
  for (const w of workers) w.start();
  for (const w of workers) await w.joinAsync();
  console.log(JSON.stringify({ count: counter[0], codes: workers.map((w) => w.exitCode) }));
}
`,
      );
      const out = await runDeno(
        ["run", "--no-config", "--no-lock", `--allow-import=${host}`, "-R", file],
        45_000,
      );
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, stderr);
      const result = JSON.parse(new TextDecoder().decode(out.stdout));
      assert.deepEqual(result, { count: 400, codes: [0, 0] });
    } finally {
      stop.abort();
      await server.finished;
      await Deno.remove(dir, { recursive: true });
    }
  },
});
