"""The one timer the benchmarks share: the best wall time of repeated calls."""

import time


def best_time(fn, repeats: int = 3) -> float:
    """The smallest wall time in seconds of ``repeats`` calls of ``fn()`` (least disturbed run)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)
