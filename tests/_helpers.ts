/**
 * Test helpers that run functions in real workers.
 *
 * `inWorker(moduleUrl, "fn", ...args)` starts a worker, calls the exported
 * function `fn` of `moduleUrl` there with `args` (structured-cloned: pass
 * primitive handles), and resolves with its result. The worker is terminated
 * as soon as it answers; `WorkerGroup` tracks every worker started so that a
 * test can join (terminate) all of them in a `finally`.
 */

const WORKER_URL = new URL("./_workers/task_worker.ts", import.meta.url);

/** An error thrown inside a worker, rebuilt on this side. */
export class RemoteError extends Error {
  /** Creates it from the worker's report. */
  constructor(name: string, message: string, stack?: string) {
    super(message);
    this.name = name;
    if (stack) this.stack = `${name}: ${message}\n    [in worker]\n${stack}`;
  }
}

/** Tracks started workers so that none outlives its test. */
export class WorkerGroup implements Disposable {
  readonly #workers = new Set<Worker>();

  /**
   * Runs `fn(...args)` from `module` in a new worker; resolves with its result.
   * Rejects with a RemoteError if the function throws, or if the worker dies.
   */
  run<T = unknown>(module: string | URL, fn: string, ...args: unknown[]): Promise<T> {
    const worker = new Worker(WORKER_URL, { type: "module" });
    this.#workers.add(worker);
    return new Promise<T>((resolve, reject) => {
      worker.onmessage = (event: MessageEvent) => {
        const data = event.data;
        this.#stop(worker);
        if (data.ok) resolve(data.value as T);
        else reject(new RemoteError(data.name, data.message, data.stack));
      };
      worker.onerror = (event: ErrorEvent) => {
        event.preventDefault();
        this.#stop(worker);
        reject(new RemoteError("WorkerError", event.message));
      };
      worker.postMessage({ module: String(module), fn, args });
    });
  }

  #stop(worker: Worker): void {
    if (this.#workers.delete(worker)) worker.terminate();
  }

  /** Terminates every worker still running. */
  [Symbol.dispose](): void {
    for (const worker of this.#workers) worker.terminate();
    this.#workers.clear();
  }
}

/** Milliseconds elapsed while awaiting `fn`. */
export async function timed<T>(fn: () => T | Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const value = await fn();
  return [value, performance.now() - start];
}
