#!/usr/bin/env python3
"""Python multiprocessing peers for bench/run.ts.

Measures multiprocessing.Queue and Pipe (throughput and ping-pong round trip)
with the same four messages as the Deno IPC benches (int4: an int, b64: 64
bytes, json: a small dict, b64k: 64 KiB), and multiprocessing.Lock
(uncontended acquire+release, and 2 processes incrementing a shared counter).

Every receiver checks each message (sequence number, length, stamps), and a
failed check exits non-zero. Prints one JSON object per line in the same
shape as the BENCHSTAT lines of bench/_harness.ts:
  {"question", "name", "workload", "metric", "op", "opsPerIter", "samplesNs", "extras"}
Usage: python3 bench/python/mp_bench.py [--quick] [--only queue|pipe|lock]
"""

import faulthandler
import json
import multiprocessing as mp
import struct
import sys
import time

QUICK = "--quick" in sys.argv
ONLY = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
SAMPLES = 3 if QUICK else 5
WARMUP = 1
WORKLOADS = ["int4", "b64", "json", "b64k"]
PATTERN = bytes((k * 7 + 3) & 255 for k in range(65536))


def counts(workload):
    scale = 0.3 if QUICK else 1
    if workload == "b64k":
        return round(1000 * scale), round(200 * scale)
    return round(10000 * scale), round(400 * scale)


def make(workload, i):
    if workload == "int4":
        return i
    if workload == "json":
        return {"id": i, "name": "ticket", "ok": True}
    size = 64 if workload == "b64" else 65536
    stamp = struct.pack("<I", i)
    return stamp + PATTERN[4:size - 4] + stamp


def check(workload, value, i):
    if workload == "int4":
        ok = value == i
    elif workload == "json":
        ok = value.get("id") == i and value.get("name") == "ticket" and value.get("ok") is True
    else:
        size = 64 if workload == "b64" else 65536
        stamp = struct.pack("<I", i)
        ok = (len(value) == size and value[:4] == stamp and value[-4:] == stamp
              and value[4:12] == PATTERN[4:12])
    if not ok:
        raise SystemExit(f"message check failed: {workload} message {i}: got {str(value)[:60]}")


def emit(question, name, workload, metric, op, ops, samples, extras=None):
    print(json.dumps({
        "question": question, "name": name, "workload": workload, "metric": metric, "op": op,
        "opsPerIter": ops, "samplesNs": samples, "extras": extras or {},
    }), flush=True)


def measure(run):
    """Runs `run()` (returning elapsed seconds) WARMUP + SAMPLES times; returns ns samples."""
    samples = []
    for k in range(WARMUP + SAMPLES):
        elapsed = run()
        if k >= WARMUP:
            samples.append(elapsed * 1e9)
    return samples


# ----------------------------------------------------------------- throughput

def queue_producer(queue, go, workload, n):
    go.wait()
    for i in range(n):
        queue.put(make(workload, i))


def pipe_producer(conn, go, workload, n):
    go.wait()
    for i in range(n):
        conn.send(make(workload, i))
    conn.close()


def queue_throughput(workload, n):
    queue, go = mp.Queue(), mp.Event()
    producer = mp.Process(daemon=True, target=queue_producer, args=(queue, go, workload, n))
    producer.start()
    start = time.perf_counter()
    go.set()
    for i in range(n):
        check(workload, queue.get(), i)
    elapsed = time.perf_counter() - start
    producer.join()
    return elapsed


def pipe_throughput(workload, n):
    receiver, sender = mp.Pipe(duplex=False)
    go = mp.Event()
    producer = mp.Process(daemon=True, target=pipe_producer, args=(sender, go, workload, n))
    producer.start()
    sender.close()
    start = time.perf_counter()
    go.set()
    for i in range(n):
        check(workload, receiver.recv(), i)
    elapsed = time.perf_counter() - start
    producer.join()
    return elapsed


# ------------------------------------------------------------------ ping-pong

def queue_echo(inbox, outbox, workload, n):
    for i in range(n):
        message = inbox.get()
        check(workload, message, i)
        outbox.put(message)


def pipe_echo(conn, workload, n):
    for i in range(n):
        message = conn.recv()
        check(workload, message, i)
        conn.send(message)


def queue_round_trip(workload, k):
    ping, pong = mp.Queue(), mp.Queue()
    echo = mp.Process(daemon=True, target=queue_echo, args=(ping, pong, workload, k))
    echo.start()
    ping.put(make(workload, 0))  # untimed: starts both queues' feeder threads
    check(workload, pong.get(), 0)
    start = time.perf_counter()
    for i in range(1, k):
        ping.put(make(workload, i))
        check(workload, pong.get(), i)
    elapsed = time.perf_counter() - start
    echo.join()
    return elapsed * k / (k - 1)


def pipe_round_trip(workload, k):
    here, there = mp.Pipe()
    echo = mp.Process(daemon=True, target=pipe_echo, args=(there, workload, k))
    echo.start()
    start = time.perf_counter()
    for i in range(k):
        here.send(make(workload, i))
        check(workload, here.recv(), i)
    elapsed = time.perf_counter() - start
    echo.join()
    return elapsed


# ---------------------------------------------------------------------- locks

def lock_uncontended(n):
    lock = mp.Lock()
    start = time.perf_counter()
    for _ in range(n):
        lock.acquire()
        lock.release()
    return time.perf_counter() - start


def lock_worker(lock, counter, go, finished, index, n):
    go.wait()
    for _ in range(n):
        lock.acquire()
        counter.value += 1
        lock.release()
    finished[index] = time.perf_counter()


def lock_contended(n):
    lock, go = mp.Lock(), mp.Event()
    counter = mp.Value("i", 0, lock=False)
    finished = mp.Array("d", 2, lock=False)
    workers = [mp.Process(daemon=True, target=lock_worker, args=(lock, counter, go, finished, index, n))
               for index in range(2)]
    for worker in workers:
        worker.start()
    time.sleep(0.02)  # both are parked on the event
    start = time.perf_counter()
    go.set()
    for worker in workers:
        worker.join()
    if counter.value != 2 * n:
        raise SystemExit(f"lock check failed: counter {counter.value}, expected {2 * n}")
    return max(finished) - start


def main():
    mp.set_start_method("fork")
    # A lost message or a dead peer must fail, not hang: give up after 5 minutes.
    faulthandler.dump_traceback_later(300, exit=True)
    if ONLY in (None, "queue", "pipe"):
        for workload in WORKLOADS:
            messages, round_trips = counts(workload)
            if ONLY in (None, "queue"):
                emit("processes: throughput", "Python mp.Queue", workload, "rate", "msg", messages,
                     measure(lambda: queue_throughput(workload, messages)))
            if ONLY in (None, "pipe"):
                emit("processes: throughput", "Python mp.Pipe", workload, "rate", "msg", messages,
                     measure(lambda: pipe_throughput(workload, messages)))
            if ONLY in (None, "queue"):
                emit("processes: round trip", "Python mp.Queue", workload, "latency", "rtt",
                     round_trips, measure(lambda: queue_round_trip(workload, round_trips)))
            if ONLY in (None, "pipe"):
                emit("processes: round trip", "Python mp.Pipe", workload, "latency", "rtt",
                     round_trips, measure(lambda: pipe_round_trip(workload, round_trips)))
    if ONLY in (None, "lock"):
        n = 100_000 if QUICK else 200_000
        emit("locks: uncontended lock+unlock", "Python mp.Lock", "-", "latency", "lock-op", n,
             measure(lambda: lock_uncontended(n)))
        n = 50_000 if QUICK else 200_000
        emit("locks: 2-worker contended counter", "Python mp.Lock (2 processes)", "-", "rate",
             "lock-op", 2 * n, measure(lambda: lock_contended(n)))


if __name__ == "__main__":
    main()
