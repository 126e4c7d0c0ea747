"""Python's multiprocessing Queue and Pipe, measured the way bench/channels_bench.ts
measures Troupe's: small dict messages one way through a Queue between two
processes, and a Pipe round trip parent <-> child. Prints one JSON object."""
import json
import multiprocessing as mp
import sys
import time


def produce(q, n, go):
    go.wait()
    for i in range(n):
        q.put({"id": i, "name": "item", "ok": True})


def consume(q, n, done):
    for _ in range(n):
        q.get()
    done.set()


def echo(conn, other):
    other.close()  # a forked child holds the parent's end too; EOF needs it closed
    while True:
        try:
            msg = conn.recv()
        except EOFError:
            return
        conn.send(msg)


def queue_rate(n):
    q = mp.Queue()
    go, done = mp.Event(), mp.Event()
    ps = [mp.Process(target=consume, args=(q, n, done)), mp.Process(target=produce, args=(q, n, go))]
    for p in ps:
        p.start()
    time.sleep(0.3)
    t0 = time.perf_counter()
    go.set()
    done.wait()
    elapsed = time.perf_counter() - t0
    for p in ps:
        p.join()
    return n / elapsed


def pipe_rtt_us(k):
    a, b = mp.Pipe()
    p = mp.Process(target=echo, args=(b, a))
    p.start()
    b.close()
    msg = {"id": 1, "name": "ping"}
    for _ in range(200):
        a.send(msg)
        a.recv()
    t0 = time.perf_counter()
    for _ in range(k):
        a.send(msg)
        a.recv()
    elapsed = time.perf_counter() - t0
    a.close()
    p.join()
    return elapsed / k * 1e6


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    k = int(sys.argv[2]) if len(sys.argv) > 2 else 5_000
    print(json.dumps({
        "python": sys.version.split()[0],
        "queue_msgs_per_s": queue_rate(n),
        "pipe_rtt_us": pipe_rtt_us(k),
    }))
