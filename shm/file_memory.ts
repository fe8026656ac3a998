/**
 * `FileMemory`: a {@linkcode Memory} kept in a plain file, shared between
 * processes with nothing but read/write permission on its directory. The
 * portable fallback: it needs only `flock` and positional reads and writes
 * (tested on Linux only). Files live in `/tmp` by default (see
 * `defaultSharedDir`).
 *
 * How the cell operations stay atomic: every operation runs with an
 * exclusive `flock` on the file (`Deno.FsFile.tryLockSync` for up to 50 µs,
 * then `lockSync`), reads the bytes it needs with positional reads
 * (`pread`) into a local cache, and writes the bytes it changed back
 * (`pwrite`) before the lock is released. Processes
 * therefore see the operations in one total order (the order they took the
 * lock), which is the sequential consistency the algorithms assume.
 *
 * Making it fast without touching the algorithms:
 * - **Batches.** {@linkcode FileMemory.batch} runs a whole algorithm step
 *   (say, one `put`) under one lock: one `flock`, one `pread` per 4 KiB block
 *   touched and one write-back (below), instead of that per cell operation.
 *   An algorithm that calls `batch` around each step gets this for free
 *   (see `runBatch` in this module); one that does not still works, one
 *   operation at a time. A batch must not wait: a wait inside one (an
 *   algorithm backing off from a half-done peer) writes back, unlocks,
 *   waits and locks again, which is correct because the algorithms are
 *   correct under any interleaving of single operations.
 * - **Leases** (`leaseMs`, off by default). After a batch that wrote, the
 *   lock may be kept for up to `leaseMs` with the cache still valid, so a sender
 *   putting in a loop pays for the lock once per lease, not once per message.
 *   Changes are still written to the file at the end of every batch, so a
 *   process killed afterwards loses nothing that a call returned for. The
 *   lease is given up when it expires (checked at the end of each batch),
 *   at the next microtask checkpoint, before any wait on any file memory
 *   of the thread, and before the thread blocks on another file's lock (so
 *   two processes leasing two files never wait for each other). While a
 *   lease keeps the lock, batches go to a log instead of being written in
 *   place (one `pwrite` each; see `FileState.logBatch`). Caveat: a thread that, within its lease, blocks in
 *   something else (a synchronous read, a subprocess) keeps the lock until it
 *   returns; {@linkcode releaseFileLeases} releases it explicitly.
 *
 * Crash safety: a batch reaches the file whole or not at all, even if the
 * process is SIGKILLed while writing it back. A batch that changed one 4 KiB
 * block is one `pwrite` inside one page, which a kill does not tear (the
 * kernel checks for fatal signals between pages); a batch that changed
 * several goes through a journal after the region: write the journal,
 * commit it with a 4-byte `pwrite`, write the blocks in place, clear the
 * commit. The kernel drops a dead process's `flock`, and the next process
 * to take it replays a committed journal before it reads anything. So a
 * `put` whose batch was cut short leaves no claimed-but-unpublished slot
 * and no half-written message, and a `put` that returned is in the file.
 *
 * Waiting has no kernel wake-up channel here: a waiter counts itself in the
 * file header and polls the cell and a notify sequence number with a bounded
 * exponential back-off (10 µs doubling to 1 ms; async waits poll on timers,
 * 1 ms doubling to 8 ms); `notify` bumps the sequence (only when someone
 * waits). `wait` may therefore return "ok" for a notify
 * meant for another cell of the same slot: a spurious wake-up, which callers
 * handle.
 *
 * @module
 */

import * as fs from "node:fs";
import { LayoutError } from "../primitives/errors.ts";
import { registerMemoryBackend } from "./attach.ts";
import { interruptSignal, throwIfInterrupted } from "./interrupt.ts";
import type { Memory, MemoryHandle, WaitResult } from "./memory.ts";
import {
  attachFileHandle,
  fileKey,
  JOURNAL_CELL,
  journalCapacity,
  LEASE_LOG_BYTES,
  LOG_CELL,
  LOG_GEN_CELL,
  readSharedFile,
  REGION_OFFSET,
  RELABEL,
  SEQUENCE_CELL,
  WAIT_SLOTS,
  WAITERS_CELL,
} from "./_shared_file.ts";
import { Deadline } from "./timeout.ts";

const BLOCK_SHIFT = 12;
const BLOCK = 1 << BLOCK_SHIFT;
const REGION_CELL = REGION_OFFSET / 4;
const FIRST_POLL_MS = 0.01;
const MAX_POLL_MS = 1;
/** How long a thread tries for a file lock before it sleeps until the lock is free. */
const LOCK_SPIN_MS = 0.05;

/**
 * Options of {@linkcode FileMemory.open}.
 *
 * @example
 * ```ts ignore
 * import { FileMemory, type FileMemoryOptions } from "@concur/shm/process";
 *
 * const options: FileMemoryOptions = { leaseMs: 2 };
 * const memory = FileMemory.open("/tmp/concur-example", options);
 * memory.add(0, 1);
 * ```
 */
export interface FileMemoryOptions {
  /**
   * Keep the file lock (and the cache) for up to this many ms after a batch,
   * so a burst of operations pays for the lock once (default: the lease
   * recorded in the file when it was created, usually 0: release at the end
   * of every batch). See the module documentation for the caveat.
   */
  leaseMs?: number;
}

/** One open file of this thread, shared by every FileMemory on it. */
class FileState {
  readonly key: string;
  readonly fileLength: number;
  readonly lockFile: Deno.FsFile;
  readonly fd: number;
  readonly cache: Uint8Array;
  readonly cells: Int32Array;
  readonly loaded: Uint8Array;
  /** Per block: first and last changed byte (exclusive), and when last changed. */
  readonly dirtyLow: Int32Array;
  readonly dirtyHigh: Int32Array;
  readonly dirtyStamp: Float64Array;
  readonly dirtyBlocks: number[] = [];
  references = 0;
  depth = 0;
  held = false;
  heldSince = 0;
  leaseMs = 0;
  releaseScheduled = false;
  /** Whether the current outermost batch changed anything. */
  wrote = false;
  stamp = 0;

  /** Where the journal starts (right after the region). */
  readonly journalOffset: number;
  /** Where the lease log starts (right after the journal). */
  readonly logOffset: number;
  journal: Uint8Array = new Uint8Array(0);

  /** Generation of the lease log this thread is writing (0: not logging). */
  logGen = 0;
  /** Sequence number of the next record, and where it goes in the log. */
  logSeq = 0;
  logAt = 0;
  /** Per block: the logged byte range not yet written in place (high 0: none). */
  readonly pendingLow: Int32Array;
  readonly pendingHigh: Int32Array;
  readonly pendingBlocks: number[] = [];

  constructor(path: string, key: string, fileLength: number) {
    this.key = key;
    this.fileLength = fileLength;
    this.journalOffset = fileLength;
    this.logOffset = fileLength + journalCapacity(fileLength - REGION_OFFSET);
    this.lockFile = Deno.openSync(path, { read: true, write: true });
    try {
      this.fd = fs.openSync(path, "r+");
    } catch (error) {
      this.lockFile.close();
      throw error;
    }
    const blocks = Math.ceil(fileLength / BLOCK);
    this.cache = new Uint8Array(blocks * BLOCK);
    this.cells = new Int32Array(this.cache.buffer);
    this.loaded = new Uint8Array(blocks);
    this.dirtyLow = new Int32Array(blocks);
    this.dirtyHigh = new Int32Array(blocks);
    this.dirtyStamp = new Float64Array(blocks);
    this.pendingLow = new Int32Array(blocks);
    this.pendingHigh = new Int32Array(blocks);
  }

  begin(): void {
    if (this.depth === 0) this.wrote = false;
    if (!this.held) {
      // Never block on one file's lock while keeping another's on lease:
      // two threads leasing two files could otherwise each wait for the
      // other's (a lease in the middle of a batch cannot be given up, but
      // batches do not span files).
      if (leased.size > (leased.has(this) ? 1 : 0)) releaseFileLeases();
      this.#lock();
      this.held = true;
      this.heldSince = performance.now();
      this.loaded.fill(0); // another process may have changed anything
      if (this.leaseMs > 0) leased.add(this);
      // Block 0 holds the header, the journal mark and (usually) the
      // algorithm's hot cells: read it now, and finish the batch of a
      // process that died while writing it back.
      this.ensure(0, Math.min(BLOCK, this.fileLength));
      if (this.cells[JOURNAL_CELL] !== 0) this.recover();
      if (this.cells[LOG_CELL] !== 0) this.replayLog();
    }
    this.depth++;
  }

  /**
   * Takes the file lock: tries for up to {@linkcode LOCK_SPIN_MS} before it
   * sleeps in the kernel. A batch holds the lock for about 10 µs, and a
   * process put to sleep on a `flock` takes 30-50 µs to run again here
   * once it is released, so two processes taking turns (a producer and a
   * consumer) would otherwise pay a sleep and a wake-up per operation
   * (measured: 33k messages/s through a file-backed Queue, 42k with the
   * spin).
   */
  #lock(): void {
    if (this.lockFile.tryLockSync(true)) return;
    const spinUntil = performance.now() + LOCK_SPIN_MS;
    while (performance.now() < spinUntil) {
      if (this.lockFile.tryLockSync(true)) return;
    }
    this.lockFile.lockSync(true);
  }

  /**
   * Applies a committed journal left by a process killed while writing a
   * batch back (idempotent: applying it twice writes the same bytes).
   */
  recover(): void {
    const length = this.cells[JOURNAL_CELL];
    if (length < 8 || length > this.fileLength + 8 * (this.loaded.length + 1)) {
      throw new LayoutError(
        "bad-parameters",
        `Cannot recover the shared file: its journal length ${length} is impossible`,
      );
    }
    const journal = new Uint8Array(length);
    readAt(this.fd, journal, 0, length, this.journalOffset);
    this.apply(journal, length);
    writeAt(this.fd, ZERO, 0, 4, JOURNAL_CELL * 4);
    this.loaded.fill(0);
    this.ensure(0, Math.min(BLOCK, this.fileLength));
  }

  /** Writes the entries of a journal in place. */
  apply(journal: Uint8Array, length: number): void {
    const view = new DataView(journal.buffer, journal.byteOffset, length);
    for (let at = 0; at < length;) {
      const position = view.getUint32(at, true);
      const size = view.getUint32(at + 4, true);
      if (position + size > this.fileLength || at + 8 + size > length) {
        throw new LayoutError(
          "bad-parameters",
          "Cannot recover the shared file: its journal is corrupt",
        );
      }
      writeAt(this.fd, journal, at + 8, size, position);
      at += 8 + ((size + 3) & ~3);
    }
  }

  end(): void {
    if (--this.depth !== 0) return;
    // Keep a lease only after a batch that wrote: a thread that only reads
    // is usually polling for another process's change, which needs the lock.
    if (
      this.leaseMs <= 0 || !this.wrote || performance.now() - this.heldSince >= this.leaseMs
    ) {
      this.release();
      return;
    }
    this.logBatch();
    leased.add(this); // (also when the lease was set after the lock was taken)
    if (!this.releaseScheduled) {
      this.releaseScheduled = true;
      queueMicrotask(() => {
        this.releaseScheduled = false;
        if (this.depth === 0) this.release();
      });
    }
  }

  /** Gives up the lock (outside any batch), with every change in place. */
  release(): void {
    if (!this.held || this.depth !== 0) return;
    if (this.logGen !== 0) this.logBatch(true); // (a full log retires itself)
    if (this.logGen !== 0) this.checkpoint();
    else this.flush();
    this.held = false;
    leased.delete(this);
    this.lockFile.unlockSync();
  }

  // The lease log. While a lease keeps the lock, nobody else reads the file,
  // so a batch need not be written in place before its call returns: it only
  // has to be in the file. Each batch is appended to the log after the region
  // as one record (one pwrite instead of a journalled write-back of every
  // block it changed), and the blocks are written in place once, when the
  // lease ends (the checkpoint). The log is active while the header's
  // LOG_CELL holds its generation: set by the lease's first batch (written
  // back the ordinary way), cleared by the checkpoint's last write. A process
  // killed with a log active leaves it to the next locker, which replays its
  // records in order (see `replayLog`), so a call that returned is never lost
  // and a half-written record is never applied.
  //
  // Record: [LOG_MAGIC, gen, seq, body bytes, checksum(body)] body [gen, seq].
  // The body holds journal entries ([position, size, bytes padded to 4]). A
  // record is valid only with the right magic, generation and next sequence
  // number, a trailer that repeats them (a kill mid-write leaves a prefix of
  // the pages written, so a present trailer means a whole record) and a
  // matching checksum.

  /**
   * Makes the current batch durable while the lock is kept (see above). A
   * batch that only bumped notify sequences (a `notify`) is not worth a
   * record of its own unless `force`d: it rides with the next record or the
   * checkpoint. Losing one to a kill loses no wake-up: a notifier changes
   * the waited-on cell in an earlier batch, which is in the file, and a
   * waiter's poll compares that cell too.
   */
  logBatch(force: boolean = false): void {
    if (this.dirtyBlocks.length === 0) return;
    if (!force && this.logGen !== 0 && this.onlySequencesDirty()) return;
    if (this.logGen === 0) {
      this.startLog();
    } else if (!this.appendRecord()) {
      this.retireLogWithBatch();
    }
  }

  /**
   * A batch that does not fit the log: write it back together with every
   * logged change, and the log's retirement, as one ordinary (journalled)
   * write-back. Until its commit a kill leaves the log to be replayed (this
   * batch's call has not returned); after it, the next locker finishes the
   * journal, which clears LOG_CELL too. (The journal has its own area: the
   * log stays intact until the commit.)
   */
  retireLogWithBatch(): void {
    for (const block of this.pendingBlocks) {
      this.touch(this.pendingLow[block], this.pendingHigh[block]);
      this.pendingHigh[block] = 0;
    }
    this.pendingBlocks.length = 0;
    this.cells[LOG_CELL] = 0;
    this.touch(LOG_CELL * 4, LOG_CELL * 4 + 4);
    this.flush();
    this.logGen = 0;
  }

  /** Whether the only bytes changed since the last record are notify sequences. */
  onlySequencesDirty(): boolean {
    return this.dirtyBlocks.length === 1 && this.dirtyBlocks[0] === 0 &&
      this.dirtyLow[0] >= SEQUENCE_CELL * 4 &&
      this.dirtyHigh[0] <= (SEQUENCE_CELL + WAIT_SLOTS) * 4;
  }

  /** Writes the current batch back the ordinary way, marking a new log active. */
  startLog(): void {
    const gen = ((this.cells[LOG_GEN_CELL] + 1) | 0) || 1;
    this.cells[LOG_GEN_CELL] = gen;
    this.cells[LOG_CELL] = gen;
    this.touch(LOG_CELL * 4, LOG_GEN_CELL * 4 + 4);
    this.flush();
    this.logGen = gen;
    this.logSeq = 0;
    this.logAt = 0;
  }

  /** Appends the current batch as one record; false (nothing written) if the log is full. */
  appendRecord(): boolean {
    const blocks = this.dirtyBlocks;
    let body = 0;
    for (const block of blocks) {
      body += 8 + ((this.dirtyHigh[block] - this.dirtyLow[block] + 3) & ~3);
    }
    const length = RECORD_HEAD + body + RECORD_TAIL;
    if (this.logAt + length > LEASE_LOG_BYTES) return false;
    if (this.journal.length < length) this.journal = new Uint8Array(length * 2);
    const record = this.journal;
    const view = new DataView(record.buffer);
    let at = RECORD_HEAD;
    for (const block of blocks) {
      const low = this.dirtyLow[block];
      const high = this.dirtyHigh[block];
      view.setUint32(at, low, true);
      view.setUint32(at + 4, high - low, true);
      record.set(this.cache.subarray(low, high), at + 8);
      record.fill(0, at + 8 + high - low, at + 8 + ((high - low + 3) & ~3));
      at += 8 + ((high - low + 3) & ~3);
      // Logged: now pending until the checkpoint writes it in place.
      const fresh = this.pendingHigh[block] === 0;
      widenRange(this.pendingBlocks, this.pendingLow, this.pendingHigh, fresh, block, low, high);
      this.dirtyStamp[block] = 0;
    }
    blocks.length = 0;
    view.setInt32(0, LOG_MAGIC, true);
    view.setInt32(4, this.logGen, true);
    view.setInt32(8, this.logSeq, true);
    view.setInt32(12, body, true);
    view.setInt32(16, checksum(record, RECORD_HEAD, body), true);
    view.setInt32(RECORD_HEAD + body, this.logGen, true);
    view.setInt32(RECORD_HEAD + body + 4, this.logSeq, true);
    writeAt(this.fd, record, 0, length, this.logOffset + this.logAt);
    this.logAt += length;
    this.logSeq++;
    return true;
  }

  /**
   * Writes every logged change in place and retires the log: the blocks in
   * any order (until the last write, a kill leaves the log to be replayed
   * over them), then block 0 with LOG_CELL cleared in one pwrite within its
   * page (the commit). Only with nothing unlogged in the cache (the last
   * write puts cache bytes of block 0 in place for good).
   */
  checkpoint(): void {
    let low0 = LOG_CELL * 4;
    let high0 = LOG_CELL * 4 + 4;
    for (const block of this.pendingBlocks) {
      const low = this.pendingLow[block];
      const high = this.pendingHigh[block];
      this.pendingHigh[block] = 0;
      if (block === 0) {
        low0 = Math.min(low0, low);
        high0 = Math.max(high0, high);
      } else {
        writeAt(this.fd, this.cache, low, high - low, low);
      }
    }
    this.pendingBlocks.length = 0;
    this.cells[LOG_CELL] = 0;
    writeAt(this.fd, this.cache, low0, high0 - low0, low0);
    this.logGen = 0;
  }

  /** Applies the records of a lease log left by a killed process, then retires it. */
  replayLog(): void {
    const gen = this.cells[LOG_CELL];
    const head = new Int32Array(RECORD_HEAD / 4);
    const headBytes = new Uint8Array(head.buffer);
    let at = 0;
    for (let seq = 0; at + RECORD_HEAD + RECORD_TAIL <= LEASE_LOG_BYTES; seq++) {
      readAt(this.fd, headBytes, 0, RECORD_HEAD, this.logOffset + at);
      const body = head[3];
      if (head[0] !== LOG_MAGIC || head[1] !== gen || head[2] !== seq) break;
      if (
        !(body >= 0 && body % 4 === 0 && at + RECORD_HEAD + body + RECORD_TAIL <= LEASE_LOG_BYTES)
      ) {
        break;
      }
      const record = new Uint8Array(RECORD_HEAD + body + RECORD_TAIL);
      readAt(this.fd, record, 0, record.length, this.logOffset + at);
      const view = new DataView(record.buffer);
      if (
        view.getInt32(RECORD_HEAD + body, true) !== gen ||
        view.getInt32(RECORD_HEAD + body + 4, true) !== seq ||
        checksum(record, RECORD_HEAD, body) !== head[4]
      ) {
        break; // cut short by a kill: its call never returned
      }
      this.apply(record.subarray(RECORD_HEAD), body);
      at += record.length;
    }
    this.cells[LOG_CELL] = 0;
    writeAt(this.fd, this.cache, LOG_CELL * 4, 4, LOG_CELL * 4);
    this.loaded.fill(0);
    this.ensure(0, Math.min(BLOCK, this.fileLength));
  }

  /** Makes bytes `[start, end)` of the file present in the cache. */
  ensure(start: number, end: number): void {
    const last = (end - 1) >> BLOCK_SHIFT;
    for (let block = start >> BLOCK_SHIFT; block <= last; block++) {
      if (this.loaded[block] === 1) continue;
      let run = block;
      while (run < last && this.loaded[run + 1] === 0) run++;
      const from = block * BLOCK;
      const to = Math.min((run + 1) * BLOCK, this.fileLength);
      readAt(this.fd, this.cache, from, to - from, from);
      this.loaded.fill(1, block, run + 1);
      block = run;
    }
  }

  /** Records that bytes `[start, end)` changed. */
  touch(start: number, end: number): void {
    this.wrote = true;
    const last = (end - 1) >> BLOCK_SHIFT;
    const stamp = ++this.stamp;
    for (let block = start >> BLOCK_SHIFT; block <= last; block++) {
      const low = Math.max(start, block * BLOCK);
      const high = Math.min(end, (block + 1) * BLOCK);
      const fresh = this.dirtyStamp[block] === 0;
      widenRange(this.dirtyBlocks, this.dirtyLow, this.dirtyHigh, fresh, block, low, high);
      this.dirtyStamp[block] = stamp;
    }
  }

  /**
   * Writes the changed bytes back so that a SIGKILL at any point leaves
   * either none or all of them: one changed block is one `pwrite` within one
   * page (the kernel checks for a fatal signal only between pages); several
   * go through the journal: write it, commit it (the 4-byte mark in block 0,
   * written together with block 0's own changes when it has some), write the
   * other blocks in place, clear the commit. The next locker replays a
   * committed journal (see `begin`).
   */
  flush(): void {
    const blocks = this.dirtyBlocks;
    if (blocks.length === 0) return;
    if (blocks.length === 1) {
      const block = blocks[0];
      const low = this.dirtyLow[block];
      writeAt(this.fd, this.cache, low, this.dirtyHigh[block] - low, low);
      this.dirtyStamp[block] = 0;
      blocks.length = 0;
      return;
    }
    blocks.sort((a, b) => a - b);
    // Block 0 holds the commit mark: when it changed too, its bytes and the
    // mark go in place together, in one pwrite within its page, and the
    // journal holds only the other blocks (one pwrite fewer).
    const withBlock0 = blocks[0] === 0;
    let length = 0;
    for (const block of blocks) {
      if (block === 0 && withBlock0) continue;
      length += 8 + ((this.dirtyHigh[block] - this.dirtyLow[block] + 3) & ~3);
    }
    // While the journal is committed, the cached header carries the mark, so
    // writing block 0 in place cannot clear it before the last block is written.
    this.cells[JOURNAL_CELL] = length;
    if (this.journal.length < length) this.journal = new Uint8Array(length * 2);
    const journal = this.journal;
    const view = new DataView(journal.buffer);
    let at = 0;
    for (const block of blocks) {
      this.dirtyStamp[block] = 0;
      if (block === 0 && withBlock0) continue;
      const low = this.dirtyLow[block];
      const size = this.dirtyHigh[block] - low;
      view.setUint32(at, low, true);
      view.setUint32(at + 4, size, true);
      journal.set(this.cache.subarray(low, low + size), at + 8);
      at += 8 + ((size + 3) & ~3);
    }
    blocks.length = 0;
    writeAt(this.fd, journal, 0, length, this.journalOffset);
    if (withBlock0) {
      const low = Math.min(this.dirtyLow[0], JOURNAL_CELL * 4);
      const high = Math.max(this.dirtyHigh[0], JOURNAL_CELL * 4 + 4);
      writeAt(this.fd, this.cache, low, high - low, low); // commit, and block 0 in place
    } else {
      writeAt(this.fd, this.cache, JOURNAL_CELL * 4, 4, JOURNAL_CELL * 4); // commit
    }
    this.apply(journal, length);
    this.cells[JOURNAL_CELL] = 0;
    writeAt(this.fd, ZERO, 0, 4, JOURNAL_CELL * 4); // done
  }

  close(): void {
    if (this.held) {
      this.depth = 0;
      this.release();
    }
    fs.closeSync(this.fd);
    this.lockFile.close();
  }
}

const ZERO = new Uint8Array(4);
/** "LOGR": the first cell of a lease-log record. */
const LOG_MAGIC = 0x52474f4c;
/** Record header bytes: magic, generation, sequence, body length, checksum. */
const RECORD_HEAD = 20;
/** Record trailer bytes: generation and sequence again. */
const RECORD_TAIL = 8;

/** A 32-bit FNV-style mix of `length` bytes (a multiple of 4) of `bytes` from `offset`. */
function checksum(bytes: Uint8Array, offset: number, length: number): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, length);
  let hash = 0x811c9dc5 | 0;
  for (let at = 0; at < length; at += 4) {
    hash = Math.imul(hash ^ view.getInt32(at, true), 0x01000193);
  }
  return hash;
}

/** Reads `length` bytes at file `position` into `target[offset..]`. */
/**
 * Records bytes `[low, high)` of `block` in a per-block range set: a block
 * not yet in it (`fresh`) is listed with that range, else its range widens.
 */
function widenRange(
  blocks: number[],
  lows: Int32Array,
  highs: Int32Array,
  fresh: boolean,
  block: number,
  low: number,
  high: number,
): void {
  if (fresh) {
    blocks.push(block);
    lows[block] = low;
    highs[block] = high;
    return;
  }
  if (low < lows[block]) lows[block] = low;
  if (high > highs[block]) highs[block] = high;
}

function readAt(
  fd: number,
  target: Uint8Array,
  offset: number,
  length: number,
  position: number,
): void {
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, target, offset + done, length - done, position + done);
    if (n === 0) {
      throw new LayoutError("too-small", `Cannot read shared file: it ends at ${position + done}`);
    }
    done += n;
  }
}

/** Writes `source[offset..offset + length)` at file `position`. */
/** Writes left before the simulated kill of {@linkcode crashBeforeWrite} (Infinity: none). */
let writesBeforeCrash = Infinity;
let tearCrashWrite = false;

/**
 * @internal Test seam for crash-safety tests: SIGKILLs this process when
 * the `writes`-th next file write starts, like a kill between two system
 * calls. With `tear`, a write spanning more than one page first puts its
 * first page's part in place, like a kill inside a multi-page `pwrite`
 * (the kernel stops only between pages). Needs `--allow-run` (to kill
 * oneself).
 */
export function crashBeforeWrite(writes: number, tear: boolean = false): void {
  writesBeforeCrash = writes;
  tearCrashWrite = tear;
}

function simulatedKill(
  fd: number,
  source: Uint8Array,
  offset: number,
  length: number,
  position: number,
) {
  const firstPage = BLOCK - (position & (BLOCK - 1));
  if (tearCrashWrite && length > firstPage) {
    fs.writeSync(fd, source, offset, firstPage, position);
  }
  Deno.kill(Deno.pid, "SIGKILL");
}

function writeAt(
  fd: number,
  source: Uint8Array,
  offset: number,
  length: number,
  position: number,
): void {
  if (--writesBeforeCrash < 0) simulatedKill(fd, source, offset, length, position);
  let done = 0;
  while (done < length) {
    done += fs.writeSync(fd, source, offset + done, length - done, position + done);
  }
}

/** Open files of this thread, by file identity. */
const states = new Map<string, FileState>();
/** Files whose lock this thread keeps on lease. */
const leased = new Set<FileState>();

/**
 * Releases every file lock this thread keeps on lease (see
 * {@linkcode FileMemoryOptions.leaseMs}). Called before every wait on a file
 * memory; call it before blocking in something else while a lease may be held.
 *
 * @example
 * ```ts
 * import { releaseFileLeases } from "@concur/shm/process";
 *
 * releaseFileLeases(); // nothing held: a no-op
 * ```
 */
export function releaseFileLeases(): void {
  for (const state of [...leased]) state.release();
}

/**
 * Runs `fn` as one batch if `memory` supports batches, else just runs it.
 * Algorithms wrap each non-blocking step in it; `fn` must not wait.
 *
 * @example
 * ```ts
 * import { SabMemory } from "@concur/shm";
 * import { runBatch } from "@concur/shm/process";
 *
 * const memory = new SabMemory(8);
 * runBatch(memory, () => memory.add(0, 1));
 * ```
 */
export function runBatch<T>(memory: Memory, fn: () => T): T {
  const batch = (memory as Partial<Batching>).batch;
  return batch === undefined ? fn() : batch.call(memory, fn) as T;
}

/**
 * A memory that can run several operations as one indivisible step.
 *
 * @example
 * ```ts
 * import { SabMemory } from "@concur/shm";
 * import { type Batching, runBatch } from "@concur/shm/process";
 *
 * const memory = new SabMemory(16);
 * const batching = memory as Partial<Batching>; // a SAB memory has no batch: runBatch just calls fn
 * console.log(batching.batch === undefined, runBatch(memory, () => memory.add(0, 2))); // true 0
 * ```
 */
export interface Batching {
  /** Runs `fn` (which must not wait) as one indivisible step; returns its result. */
  batch<T>(fn: () => T): T;
}

/**
 * A region of a shared file, made atomic with `flock`.
 *
 * @example Open a file-backed memory created by openShared()
 * ```ts ignore
 * import { FileMemory } from "@concur/shm/process";
 *
 * const memory = FileMemory.open("/tmp/concur-my-object");
 * memory.batch(() => memory.store(0, memory.load(0) + 1)); // one indivisible step
 * memory.close();
 * ```
 */
export class FileMemory implements Memory, Batching {
  /** Always `"file"`. */
  readonly backend: string = "file";
  /** Always `false`: every load is a lock and a read of the file, so waiters sleep at once. */
  readonly spinWorthwhile: boolean = false;
  /** Size of the region in bytes. */
  readonly byteLength: number;
  #path: string;
  #state: FileState | undefined;
  /** The wait slots this memory is counted in (one entry per wait in progress). */
  readonly #waitingSlots: number[] = [];
  readonly #cellCount: number;

  private constructor(path: string, state: FileState, regionLength: number) {
    this.#path = path;
    this.#state = state;
    this.byteLength = regionLength;
    this.#cellCount = regionLength / 4;
  }

  /**
   * Opens the region of the shared file at `path` (created for this backend).
   *
   * @param path The file.
   * @param options `leaseMs` (see {@linkcode FileMemoryOptions}).
   * @param handlePath The path handles should name (defaults to `path`).
   * @returns The memory.
   * @throws {LayoutError} If the file is not a shared object file, or was created for the mapped memory.
   */
  static open(path: string, options?: FileMemoryOptions, handlePath: string = path): FileMemory {
    const info = readSharedFile(path);
    if (info.mode !== "file") {
      throw new LayoutError(
        "wrong-kind",
        `Cannot open ${path} as a file-backed memory: it was created for the memory-mapped backend (it needs --allow-ffi on Linux)`,
      );
    }
    const key = fileKey(path);
    let state = states.get(key);
    if (state === undefined) {
      state = new FileState(path, key, REGION_OFFSET + info.regionLength);
      states.set(key, state);
    }
    if (state.references++ === 0) state.leaseMs = info.leaseMs;
    if (options?.leaseMs !== undefined) state.leaseMs = Math.max(0, options.leaseMs);
    return new FileMemory(handlePath, state, info.regionLength);
  }

  /**
   * Attaches to the region a handle describes.
   *
   * @param handle A handle from {@linkcode FileMemory.handle}.
   * @returns The memory.
   * @throws {LayoutError} If the handle is not a `"file"` handle or does not match its file.
   */
  static from(handle: MemoryHandle): FileMemory {
    return attachFileHandle(handle, "file", (path) => FileMemory.open(path));
  }

  /** The file and region, as plain data (JSON-serialisable). */
  handle(): MemoryHandle {
    return {
      backend: "file",
      path: this.path,
      byteOffset: REGION_OFFSET,
      byteLength: this.byteLength,
    };
  }

  /** The file that holds the region (as handles name it). */
  get path(): string {
    return this.#path;
  }

  /** @internal Names another path in handles (a file created under a temporary name). */
  [RELABEL](path: string): void {
    this.#path = path;
  }

  /**
   * Sets this thread's lease on the file (see {@linkcode FileMemoryOptions.leaseMs}).
   *
   * @param leaseMs Milliseconds (0: release the lock at the end of every batch).
   */
  setLease(leaseMs: number): void {
    this.#open().leaseMs = Math.max(0, leaseMs);
  }

  /** Whether {@linkcode FileMemory.close} was called. */
  get closed(): boolean {
    return this.#state === undefined;
  }

  /** Releases this memory's use of the file (closed with the last user in this thread). */
  close(): void {
    const state = this.#state;
    if (state === undefined) return;
    // Waits still pending on this memory (async ones, which reject once they
    // see it closed) leave the file's waiter count now, while the file is
    // open: other processes would otherwise notify a waiter that is gone.
    for (const slot of this.#waitingSlots.splice(0)) this.#leaveWaiters(state, slot);
    this.#state = undefined;
    if (--state.references === 0) {
      states.delete(state.key);
      leased.delete(state);
      state.close();
    }
  }

  /** Runs `fn` (which must not wait) as one indivisible step under one lock. */
  batch<T>(fn: () => T): T {
    const state = this.#open();
    state.begin();
    try {
      return fn();
    } finally {
      state.end();
    }
  }

  /** Atomically reads a cell. */
  load(cell: number): number {
    const state = this.#open();
    const index = this.#index(cell);
    state.begin();
    try {
      state.ensure(index * 4, index * 4 + 4);
      return state.cells[index];
    } finally {
      state.end();
    }
  }

  /** Atomically writes a cell. */
  store(cell: number, value: number): void {
    this.#update(cell, () => value);
  }
  /** Reads a cell: the same as `load` (each access locks the file anyway). */
  loadPlain(cell: number): number {
    return this.load(cell);
  }
  /** Writes a cell: the same as `store`. */
  storePlain(cell: number, value: number): void {
    this.store(cell, value);
  }
  /** Atomically adds to a cell; returns the old value. */
  add(cell: number, delta: number): number {
    return this.#update(cell, (old) => (old + delta) | 0);
  }
  /** Atomically swaps a cell; returns the old value. */
  exchange(cell: number, value: number): number {
    return this.#update(cell, () => value);
  }
  /** Atomic compare-and-swap; returns the value the cell held. */
  compareExchange(cell: number, expected: number, replacement: number): number {
    expected |= 0;
    return this.#update(cell, (old) => old === expected ? replacement : old);
  }

  #update(cell: number, next: (old: number) => number): number {
    const state = this.#open();
    const index = this.#index(cell);
    state.begin();
    try {
      const at = index * 4;
      state.ensure(at, at + 4);
      const old = state.cells[index];
      const value = next(old) | 0;
      if (value !== old) {
        state.cells[index] = value;
        state.touch(at, at + 4);
      }
      return old;
    } finally {
      state.end();
    }
  }

  /** Blocks while the cell holds `expected`, polling with back-off (see the module doc). */
  wait(cell: number, expected: number, timeoutMs: number = Infinity): WaitResult {
    const sleeper = new Int32Array(new SharedArrayBuffer(4));
    return this.#waitLoop(cell, expected, timeoutMs, (ms) => {
      Atomics.wait(sleeper, 0, 0, ms);
      return true;
    }) as WaitResult;
  }

  /** Waits without blocking the thread, polling on timers (see the module doc). */
  async waitAsync(
    cell: number,
    expected: number,
    timeoutMs: number = Infinity,
    signal?: AbortSignal,
  ): Promise<WaitResult> {
    // In an interruptible thread the wait also ends on a terminate request.
    const interrupt = interruptSignal();
    if (interrupt !== undefined && interrupt !== signal) {
      signal = signal === undefined ? interrupt : AbortSignal.any([signal, interrupt]);
    }
    signal?.throwIfAborted();
    const state = this.#open();
    const index = this.#index(cell);
    const slot = cell % WAIT_SLOTS;
    releaseFileLeases();
    const first = this.#register(state, index, expected, slot);
    if (first === undefined) return "not-equal";
    try {
      const deadline = new Deadline(timeoutMs);
      let delay = 1;
      for (;;) {
        const remaining = deadline.remaining();
        if (remaining === 0) return "timed-out";
        await sleep(Math.min(delay, remaining), signal);
        delay = Math.min(delay * 2, 8);
        // #open(): the memory may have been closed while this wait slept.
        const [value, sequence] = this.#poll(this.#open(), index, slot);
        if (value !== expected || sequence !== first) return "ok";
      }
    } finally {
      this.#unregister(state, slot);
    }
  }

  #waitLoop(
    cell: number,
    expected: number,
    timeoutMs: number,
    pause: (ms: number) => boolean,
  ): WaitResult {
    const state = this.#open();
    const index = this.#index(cell);
    const depth = state.depth;
    if (depth !== 0) {
      // A wait inside a batch (an algorithm backing off from a half-done
      // peer) splits the batch: the algorithms are correct under any
      // interleaving of single cell operations, batches only make steps
      // coarser. Write back, unlock, wait, and lock again for the rest.
      state.depth = 0;
      state.release();
      try {
        return this.#waitLoop(cell, expected, timeoutMs, pause);
      } finally {
        state.begin();
        state.depth = depth;
      }
    }
    const slot = cell % WAIT_SLOTS;
    releaseFileLeases();
    const first = this.#register(state, index, expected, slot);
    if (first === undefined) return "not-equal";
    try {
      const deadline = new Deadline(timeoutMs);
      let delay = FIRST_POLL_MS;
      for (;;) {
        const remaining = deadline.remaining();
        if (remaining === 0) return "timed-out";
        throwIfInterrupted(); // polls are at most 1 ms apart: a terminate request ends the wait
        pause(Math.min(delay, remaining));
        delay = Math.min(delay * 2, MAX_POLL_MS);
        const [value, sequence] = this.#poll(state, index, slot);
        if (value !== expected || sequence !== first) return "ok";
      }
    } finally {
      this.#unregister(state, slot);
    }
  }

  /** Checks the cell and counts a waiter in one step; returns the notify sequence, or undefined if not equal. */
  #register(state: FileState, index: number, expected: number, slot: number): number | undefined {
    state.begin();
    try {
      state.ensure(0, REGION_OFFSET);
      state.ensure(index * 4, index * 4 + 4);
      if (state.cells[index] !== (expected | 0)) return undefined;
      state.cells[WAITERS_CELL + slot]++;
      state.touch((WAITERS_CELL + slot) * 4, (WAITERS_CELL + slot) * 4 + 4);
      this.#waitingSlots.push(slot);
      return state.cells[SEQUENCE_CELL + slot];
    } finally {
      state.end();
      state.release();
    }
  }

  #unregister(state: FileState, slot: number): void {
    const at = this.#waitingSlots.indexOf(slot);
    if (at < 0) return; // close() did it
    this.#waitingSlots.splice(at, 1);
    this.#leaveWaiters(state, slot);
  }

  /** Takes one waiter off the file's count of `slot`. */
  #leaveWaiters(state: FileState, slot: number): void {
    state.begin();
    try {
      state.ensure(0, REGION_OFFSET);
      state.cells[WAITERS_CELL + slot]--;
      state.touch((WAITERS_CELL + slot) * 4, (WAITERS_CELL + slot) * 4 + 4);
    } finally {
      state.end();
      state.release();
    }
  }

  #poll(state: FileState, index: number, slot: number): [number, number] {
    state.begin();
    try {
      state.ensure(0, REGION_OFFSET);
      state.ensure(index * 4, index * 4 + 4);
      return [state.cells[index], state.cells[SEQUENCE_CELL + slot]];
    } finally {
      state.end();
      state.release();
    }
  }

  /** Wakes the waiters of the cell's slot (all of them: they poll); returns how many were waiting. */
  notify(cell: number, count: number = Infinity): number {
    const state = this.#open();
    this.#index(cell);
    const slot = cell % WAIT_SLOTS;
    state.begin();
    try {
      state.ensure(0, REGION_OFFSET);
      const waiting = state.cells[WAITERS_CELL + slot];
      if (waiting <= 0 || count <= 0) return 0;
      state.cells[SEQUENCE_CELL + slot]++;
      state.touch((SEQUENCE_CELL + slot) * 4, (SEQUENCE_CELL + slot) * 4 + 4);
      return Math.min(waiting, count);
    } finally {
      state.end();
    }
  }

  /** Copies bytes out of the region. */
  readBytes(byteOffset: number, target: Uint8Array): void {
    const state = this.#open();
    const start = this.#range(byteOffset, target.length);
    state.begin();
    try {
      state.ensure(start, start + target.length);
      target.set(state.cache.subarray(start, start + target.length));
    } finally {
      state.end();
    }
  }

  /** Copies bytes into the region. */
  writeBytes(byteOffset: number, source: Uint8Array): void {
    const state = this.#open();
    const start = this.#range(byteOffset, source.length);
    if (source.length === 0) return;
    state.begin();
    try {
      state.ensure(start, start + source.length);
      state.cache.set(source, start);
      state.touch(start, start + source.length);
    } finally {
      state.end();
    }
  }

  /** Copies whole cells out of the region (the bytes of `target`, see {@linkcode FileMemory.readBytes}). */
  readCells(cell: number, target: Int32Array): void {
    this.readBytes(cell * 4, new Uint8Array(target.buffer, target.byteOffset, target.byteLength));
  }
  /** Copies whole cells into the region (see {@linkcode FileMemory.writeBytes}). */
  writeCells(cell: number, source: Int32Array): void {
    this.writeBytes(cell * 4, new Uint8Array(source.buffer, source.byteOffset, source.byteLength));
  }

  /** A copy of the bytes (a file cannot be viewed in place). */
  viewBytes(byteOffset: number, length: number): Uint8Array {
    const target = new Uint8Array(length);
    this.readBytes(byteOffset, target);
    return target;
  }

  #open(): FileState {
    const state = this.#state;
    if (state === undefined) {
      throw new RangeError(`Cannot use the file-backed memory ${this.path}: it is closed`);
    }
    return state;
  }

  #index(cell: number): number {
    if (!(Number.isInteger(cell) && cell >= 0 && cell < this.#cellCount)) {
      throw new RangeError(`Cell ${cell} is outside the memory (${this.#cellCount} cells)`);
    }
    return REGION_CELL + cell;
  }

  #range(byteOffset: number, length: number): number {
    if (
      !(Number.isInteger(byteOffset) && byteOffset >= 0 && byteOffset + length <= this.byteLength)
    ) {
      throw new RangeError(
        `Bytes [${byteOffset}, ${
          byteOffset + length
        }) are outside the memory (${this.byteLength} bytes)`,
      );
    }
    return REGION_OFFSET + byteOffset;
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

registerMemoryBackend("file", (handle) => FileMemory.from(handle));
