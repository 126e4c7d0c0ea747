"""Python's multiprocessing start methods, beside bench/spawn_compare.ts.

For each start method: Process(target=empty).start() + join(), `starts` times (first and median,
ms). Then, on the spawn method: Pool(size).map(square, range(n)) on a warm pool (first and median
call, ms) and apply_async(square, (i,)).get() one after another (first and median, µs), and a
Queue between two processes (items/s). Prints one JSON object.

    python3 bench/peers/python_start.py --starts 20 --n 100000 --trips 500 --size 2 --items 100000
"""

import argparse
import json
import multiprocessing as mp
import platform
import statistics
import time


def empty():
    pass


def square(x):
    return x * x


def producer(q, n):
    for i in range(n):
        q.put(i)
    q.put(None)


def consumer(q, done):
    count = 0
    while q.get() is not None:
        count += 1
    done.put(count)


def first_and_median(xs):
    return {"first": xs[0], "median": statistics.median(xs)}


def starts(ctx, k):
    ms = []
    for _ in range(k):
        t0 = time.perf_counter()
        p = ctx.Process(target=empty)
        p.start()
        p.join()
        ms.append((time.perf_counter() - t0) * 1000)
    return first_and_median(ms)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--starts", type=int, default=20)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--trips", type=int, default=500)
    parser.add_argument("--size", type=int, default=2)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--items", type=int, default=100_000)
    args = parser.parse_args()
    out = {"version": platform.python_version()}
    for method in ("spawn", "forkserver", "fork"):
        out[method] = starts(mp.get_context(method), args.starts)
    ctx = mp.get_context("spawn")
    with ctx.Pool(args.size) as pool:
        pool.map(square, range(1000))
        ms = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            result = pool.map(square, range(args.n))
            ms.append((time.perf_counter() - t0) * 1000)
            assert result[-1] == (args.n - 1) ** 2
        out["map"] = first_and_median(ms)
        us = []
        for i in range(args.trips):
            t0 = time.perf_counter()
            pool.apply_async(square, (i,)).get()
            us.append((time.perf_counter() - t0) * 1e6)
        out["apply"] = first_and_median(us)
    q = ctx.Queue()
    done = ctx.Queue()
    c = ctx.Process(target=consumer, args=(q, done))
    p = ctx.Process(target=producer, args=(q, args.items))
    c.start()
    t0 = time.perf_counter()
    p.start()
    count = done.get()
    s = time.perf_counter() - t0
    p.join()
    c.join()
    assert count == args.items
    out["queue_per_s"] = args.items / s
    print(json.dumps(out))


if __name__ == "__main__":
    main()
