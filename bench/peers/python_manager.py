"""Python's multiprocessing.Manager().dict() set round trip, for bench/manager_bench.ts.

Prints JSON: the median microseconds of one `d[key] = i` from the main
process and from a child process (median over 20 batches).
"""
import json
import multiprocessing as mp
import sys
import time


def median_set_us(d, n):
    for i in range(3000):
        d["warm"] = i
    per = max(1, n // 20)
    batches = []
    for _ in range(20):
        t0 = time.perf_counter()
        for i in range(per):
            d["k"] = i
        batches.append((time.perf_counter() - t0) * 1e6 / per)
    batches.sort()
    return batches[10]


def child(d, n, out):
    out.put(median_set_us(d, n))


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    with mp.Manager() as manager:
        d = manager.dict()
        main_us = median_set_us(d, n)
        out = mp.Queue()
        p = mp.Process(target=child, args=(d, n, out))
        p.start()
        child_us = out.get()
        p.join()
        assert d["k"] == n // 20 - 1, d["k"]
    print(json.dumps({
        "version": sys.version.split()[0],
        "start_method": mp.get_start_method(),
        "main_us": main_us,
        "child_us": child_us,
    }))
