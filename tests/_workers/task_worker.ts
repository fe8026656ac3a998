/// <reference lib="deno.worker" />
/**
 * Generic test worker: imports a module, calls one of its exported functions
 * with the posted arguments, posts back the result (or the error's name,
 * message and stack), and waits to be terminated.
 */

self.onmessage = async (event: MessageEvent) => {
  const { module, fn, args } = event.data as { module: string; fn: string; args: unknown[] };
  try {
    const imported = await import(module);
    const value = await imported[fn](...args);
    self.postMessage({ ok: true, value });
  } catch (err) {
    const e = err as Error;
    self.postMessage({ ok: false, name: e?.name, message: e?.message, stack: e?.stack });
  }
};
