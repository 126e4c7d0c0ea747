"""Python's multiprocessing.Pool on the workloads of bench/pool_compare.ts.

One pool per workload, processes = cpu count, warmed by one small call before the clock starts,
then timed over several calls. Prints one JSON object to stdout: for each measurement its first
timed call and the median of the calls (times in ms, round trip in µs).

    python3 bench/peers/python_pool.py --n 100000 --trips 1000 --fib 30 --fib-tasks 12 \
        --fast-runs 10 --slow-runs 3
"""

import argparse
import json
import multiprocessing
import os
import platform
import statistics
import time


def square(x):
    return x * x


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def check(values, expected, what):
    if list(values) != expected:
        raise SystemExit(f"{what}: wrong results")


def first_and_median(xs):
    return {"first": xs[0], "median": statistics.median(xs)}


def timed_on_pool(size, warm, timed, verify, runs=1):
    """Runs `timed` `runs` times on a fresh pool of `size` processes after `warm`, passing each
    result to `verify` after the clock stops; returns the ms of each run."""
    with multiprocessing.Pool(size) as pool:
        warm(pool)
        ms = []
        for _ in range(runs):
            t0 = time.perf_counter()
            result = timed(pool)
            ms.append((time.perf_counter() - t0) * 1000)
            verify(result)
        return ms


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--trips", type=int, default=1000)
    parser.add_argument("--fib", type=int, default=30)
    parser.add_argument("--fib-tasks", type=int, default=12)
    parser.add_argument("--fast-runs", type=int, default=10, help="timed calls of map")
    parser.add_argument("--slow-runs", type=int, default=3, help="timed calls of the others")
    args = parser.parse_args()
    procs = os.cpu_count()
    n = args.n
    squares = [x * x for x in range(n)]
    warm_items = range(max(procs * 4, n // 100))
    out = {}

    # Each workload is warmed by itself on n / 100 items, on the same fresh pool.
    def run_map(pool, items):
        return pool.map(square, items)

    def run_map1(pool, items):
        return pool.map(square, items, chunksize=1)

    def run_apply_async(pool, items):
        pending = [pool.apply_async(square, (x,)) for x in items]
        return [r.get() for r in pending]

    def measure(key, run, what, runs):
        out[key] = first_and_median(timed_on_pool(
            procs,
            lambda pool: run(pool, warm_items),
            lambda pool: run(pool, range(n)),
            lambda values: check(values, squares, what),
            runs,
        ))

    measure("mapMs", run_map, "map, default chunksize", args.fast_runs)
    measure("mapChunk1Ms", run_map1, "map, chunksize 1", args.slow_runs)
    measure("applyAsyncMs", run_apply_async, "apply_async", args.slow_runs)

    latencies = []

    def run_trips(pool):
        for i in range(args.trips):
            t0 = time.perf_counter()
            y = pool.apply(square, (i,))
            latencies.append((time.perf_counter() - t0) * 1e6)
            if y != i * i:
                raise SystemExit("apply round trip: wrong result")

    timed_on_pool(procs, lambda pool: run_apply_async(pool, warm_items), run_trips, lambda _: None)
    out["roundTripUs"] = first_and_median(latencies)

    fibs = [args.fib] * args.fib_tasks
    expected = [fib(args.fib)] * args.fib_tasks

    def fib_warm(pool):
        pool.map(fib, [20] * (procs * 2), chunksize=1)

    def run_fib(pool):
        return pool.map(fib, fibs, chunksize=1)

    def check_fib(values):
        check(values, expected, "fib")

    out["fibOneMs"] = first_and_median(timed_on_pool(1, fib_warm, run_fib, check_fib, args.slow_runs))
    out["fibAllMs"] = first_and_median(
        timed_on_pool(procs, fib_warm, run_fib, check_fib, args.slow_runs)
    )

    result = {
        "python": platform.python_version(),
        "startMethod": multiprocessing.get_start_method(),
        "processes": procs,
        "pool": out,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
