/**
 * Owner ids for processes, and whether the process behind one is alive, so
 * that a lock held by a process that died (SIGKILL, crash) can be recovered
 * by the next locker in another process.
 *
 * A process registers once: it draws a random 28-bit number, creates the
 * file `concur-owner-<number>` in the shared directory exclusively (so no
 * two live processes share a number) and holds an exclusive `flock` on it
 * for the rest of its life. Its owner id is that number with
 * {@linkcode PROCESS_OWNER_BIT} set. The kernel drops the lock when the
 * process ends, however it ends, so "is the owner alive?" is "is that file
 * still locked?" — a `tryLock`, with no pid-reuse ambiguity. The prober of a
 * dead owner removes its file.
 *
 * The robust lock (`primitives/_futex_lock.ts`) asks `shm/liveness.ts`
 * whether an owner died; this module registers its oracle there when it is
 * loaded (every program that opens named objects loads it), so any process
 * recovers a lock whose holder process died, whether or not it registered
 * itself. Only registered processes' locks can be recovered: a process that
 * takes shared locks should call {@linkcode registerProcessOwner} first
 * (processes started with `startProcess` do, in `processArgs()`).
 *
 * Threads of a registered process (workers started with `WorkerProcess` or
 * `Pool`, nested ones too) get owner ids of the same kind: each is a hard
 * link `concur-owner-<number>` to the process's own owner file, created
 * exclusively (so unique among all live owners) and removed when the thread
 * ends. Through the link, another process sees the thread alive exactly
 * while the link exists and the process holds its lock: a thread that ended
 * or a process that died is dead, and a live thread of another process is
 * never mistaken for one of its own (thread ids from `shm/liveness.ts`'s
 * table count from 1 in every process).
 *
 * @module
 */

import { MANAGED_OWNER_BIT, setCurrentOwnerId } from "../primitives/_owner.ts";
import {
  EXTERNAL_OWNER_BIT,
  type ExternalLiveness,
  registerExternalLiveness,
  setOwnerIssuer,
} from "./liveness.ts";
import { defaultSharedDir } from "./_shared_file.ts";

/**
 * Set in the owner ids of registered processes (`EXTERNAL_OWNER_BIT` of `shm/liveness.ts`).
 *
 * @example
 * ```ts ignore
 * import { PROCESS_OWNER_BIT, registerProcessOwner } from "@concur/shm/process";
 *
 * const id = registerProcessOwner();
 * console.log((id & PROCESS_OWNER_BIT) !== 0); // true: the owner id of a process
 * ```
 */
export const PROCESS_OWNER_BIT: number = EXTERNAL_OWNER_BIT;
const NUMBER_MASK = PROCESS_OWNER_BIT - 1;
const PREFIX = "concur-owner-";
const OWNER_FILE = /^concur-owner-[0-9a-f]{1,7}$/;

export type { ExternalLiveness };
let registered: { id: number; path: string; file: Deno.FsFile } | undefined;
let ownerDir: string | undefined;

/**
 * The liveness oracle for process owner ids (registered with
 * `shm/liveness.ts` by {@linkcode registerProcessOwner}).
 */
export const processLiveness: ExternalLiveness = {
  owns: (id) =>
    (id & (MANAGED_OWNER_BIT | PROCESS_OWNER_BIT)) === (MANAGED_OWNER_BIT | PROCESS_OWNER_BIT),
  isDead: (id) => isProcessOwnerDead(id),
};

/** Whether locks held by dead processes are recovered (always, since `shm/liveness.ts` takes oracles). */
export function processRecoverySupported(): boolean {
  return true;
}

/**
 * Gives the calling process (its main thread) a unique owner id whose
 * death other processes can detect, and makes it the thread's owner id.
 * Idempotent. Needs read/write permission on `dir`.
 *
 * @param dir Where the owner files live (default: {@linkcode defaultSharedDir}).
 * @returns The owner id.
 *
 * @example
 * ```ts ignore
 * import { registerProcessOwner } from "@concur/shm/process";
 *
 * registerProcessOwner(); // before taking any shared lock
 * ```
 */
export function registerProcessOwner(dir?: string): number {
  if (registered !== undefined) return registered.id;
  ownerDir = dir ?? ownerDir ?? defaultSharedDir();
  const random = new Uint32Array(1);
  for (let attempt = 0; attempt < 100; attempt++) {
    crypto.getRandomValues(random);
    const number = random[0] & NUMBER_MASK;
    if (number === 0) continue;
    const path = ownerPath(number);
    // Lock the file before it gets its name, so that no prober ever sees
    // it unlocked (and removes it, declaring this live process dead).
    const temporary = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
    const file = Deno.openSync(temporary, {
      read: true,
      write: true,
      createNew: true,
      mode: 0o600,
    });
    file.lockSync(true);
    try {
      Deno.linkSync(temporary, path);
    } catch (error) {
      file.close();
      if (error instanceof Deno.errors.AlreadyExists) continue;
      throw error;
    } finally {
      Deno.removeSync(temporary);
    }
    const id = MANAGED_OWNER_BIT | PROCESS_OWNER_BIT | number;
    registered = { id, path, file };
    setCurrentOwnerId(id);
    globalThis.addEventListener("unload", unregisterProcessOwner);
    collectDeadOwners(GC_BATCH);
    installThreadOwnerLinks({ dir: ownerDir, processFile: path });
    return id;
  }
  throw new Error("Cannot register the process owner: no free owner number");
}

/** Where a worker's thread ids link to (see {@linkcode installThreadOwnerLinks}). */
export interface ThreadOwnerLinks {
  /** The directory of the owner files. */
  readonly dir: string;
  /** The owner file of the process (held locked by it). */
  readonly processFile: string;
}

/**
 * Makes the threads this thread starts get owner ids that are links to the
 * process's owner file (see the module documentation). Done by
 * {@linkcode registerProcessOwner}, and by the workers of a registered
 * process when they start (with the config their parent passed).
 *
 * @param links The owner directory and the process's owner file.
 */
export function installThreadOwnerLinks(links: ThreadOwnerLinks): void {
  ownerDir ??= links.dir;
  setOwnerIssuer({
    config: links,
    issue(): number {
      const random = new Uint32Array(1);
      for (let attempt = 0; attempt < 100; attempt++) {
        crypto.getRandomValues(random);
        const number = random[0] & NUMBER_MASK;
        if (number === 0) continue;
        try {
          Deno.linkSync(links.processFile, `${links.dir}/${PREFIX}${number.toString(16)}`);
        } catch (error) {
          if (error instanceof Deno.errors.AlreadyExists) continue;
          // Falling back to the table's per-process numbers would let other
          // processes take this thread for one of theirs: refuse instead.
          throw new Error(
            `Cannot give the new thread an owner id: linking its owner file in ${links.dir} failed (${error})`,
            { cause: error },
          );
        }
        return MANAGED_OWNER_BIT | PROCESS_OWNER_BIT | number;
      }
      throw new Error("Cannot give the new thread an owner id: no free owner number");
    },
    retire(id: number): void {
      try {
        Deno.removeSync(`${links.dir}/${PREFIX}${(id & NUMBER_MASK).toString(16)}`);
      } catch {
        // already removed (by a prober, or by the other of worker and parent)
      }
    },
  });
}

/**
 * Ends the registration (called at exit): the owner file's name is removed,
 * so this thread's id reads as dead from then on. The file itself stays open
 * (the kernel drops its lock when the process ends): workers still running
 * until then keep their linked ids alive, so no other process takes their
 * locks over while they may still be inside a critical section.
 */
export function unregisterProcessOwner(): void {
  const current = registered;
  if (current === undefined) return;
  registered = undefined;
  setOwnerIssuer(undefined);
  try {
    Deno.removeSync(current.path);
  } catch {
    // already removed
  }
  lingering.push(current.file);
}

/** Owner files of ended registrations, kept open (locked) until the process ends. */
const lingering: Deno.FsFile[] = [];

/** Owner files looked at (at most) when a process registers. */
const GC_BATCH = 32;

/**
 * Removes the owner files of up to `limit` processes that ended without
 * removing theirs (killed, or crashed): each registration cleans a few, so
 * they never pile up. A file is removed only when nobody holds its lock.
 *
 * @param limit How many owner files to look at.
 * @returns How many were removed.
 *
 * @example
 * ```ts ignore
 * import { collectDeadOwners } from "@concur/shm/process";
 *
 * // owner files left by killed processes (registration already removes a few)
 * console.log(collectDeadOwners(100)); // how many were removed, often 0
 * ```
 */
export function collectDeadOwners(limit: number = Infinity): number {
  const dir = ownerDir ?? defaultSharedDir();
  let looked = 0;
  let removed = 0;
  try {
    for (const entry of Deno.readDirSync(dir)) {
      if (looked >= limit) break;
      if (!entry.isFile || !OWNER_FILE.test(entry.name)) continue;
      looked++;
      const number = parseInt(entry.name.slice(PREFIX.length), 16);
      if (!(number > 0 && number <= NUMBER_MASK)) continue;
      const id = MANAGED_OWNER_BIT | PROCESS_OWNER_BIT | number;
      if (id !== registered?.id && isProcessOwnerDead(id)) removed++;
    }
  } catch {
    // no permission to list the directory: nothing to collect
  }
  return removed;
}

/**
 * Whether the process that registered owner `id` has ended. Ids of
 * unregistered owners are never reported dead.
 *
 * @param id An owner id found in a lock word.
 * @returns `true` only if the owner is known to be dead.
 *
 * @example
 * ```ts ignore
 * import { isProcessOwnerDead, registerProcessOwner } from "@concur/shm/process";
 *
 * const me = registerProcessOwner();
 * console.log(isProcessOwnerDead(me)); // false: this process is alive
 * // an owner id read from a lock word whose process was killed: true
 * ```
 */
export function isProcessOwnerDead(id: number): boolean {
  if ((id & PROCESS_OWNER_BIT) === 0) return false;
  if (registered?.id === id) return false;
  const path = ownerPath(id & NUMBER_MASK);
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { read: true, write: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return true;
    return false; // cannot tell (permissions): presume alive
  }
  try {
    if (!file.tryLockSync(true)) return false;
    // Nobody holds it: the owner has ended. Clean up its file, if the name
    // still names the file just locked (a thread's link is removed and may
    // be created again, for another owner, between the open and now).
    try {
      const named = Deno.statSync(path);
      const locked = file.statSync();
      if (named.ino === locked.ino && named.dev === locked.dev) Deno.removeSync(path);
    } catch {
      // another prober removed it
    }
    file.unlockSync();
    return true;
  } finally {
    file.close();
  }
}

function ownerPath(number: number): string {
  return `${ownerDir ?? defaultSharedDir()}/${PREFIX}${number.toString(16)}`;
}

registerExternalLiveness(processLiveness);
