"""Python's multiprocessing Lock and Value, for bench/sync_bench.ts. Prints JSON."""
import json
import multiprocessing as mp
import sys
import time


def uncontended(n):
    lock = mp.Lock()
    for _ in range(10_000):
        lock.acquire()
        lock.release()
    t0 = time.perf_counter()
    for _ in range(n):
        lock.acquire()
        lock.release()
    return (time.perf_counter() - t0) * 1e9 / n


def count(value, n, start, end):
    start.wait()
    for _ in range(n):
        with value.get_lock():
            value.value += 1
    end.wait()


def contended(workers, n):
    value = mp.Value("i", 0)
    start, end = mp.Barrier(workers + 1), mp.Barrier(workers + 1)
    ps = [mp.Process(target=count, args=(value, n, start, end)) for _ in range(workers)]
    for p in ps:
        p.start()
    start.wait()
    t0 = time.perf_counter()
    end.wait()
    seconds = time.perf_counter() - t0
    for p in ps:
        p.join()
    assert value.value == workers * n, value.value
    return seconds


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    per_worker = int(sys.argv[2]) if len(sys.argv) > 2 else 200_000
    print(json.dumps({
        "version": sys.version.split()[0],
        "lock_ns": uncontended(n),
        "counter_s": contended(2, per_worker),
        "per_worker": per_worker,
    }))
