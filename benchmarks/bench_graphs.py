"""Exact path counting by dynamic programme (graphs.counting) against enumeration (R1, R4).

``tower_1000``: the 1000-block tower counted exactly (2^1000 paths; target under 2 s).
``dp_vs_enumeration_16``: the DP and networkx's ``all_simple_paths`` on the same 16-block tower
(65536 paths), timed side by side in one run; the ratio is enumeration time / DP time.
"""

import time

from graphs.builders import tower
from graphs.counting import count_by_enumeration, count_paths


def _timed(function, *args, repeat: int = 3):
    """(best wall time in seconds over ``repeat`` runs, last result)."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function(*args)
        best = min(best, time.perf_counter() - start)
    return best, result


def tower_1000() -> dict:
    n = 1000
    build_s, graph = _timed(tower, n)
    count_s, counts = _timed(count_paths, graph)
    return {"blocks": n, "build_s": round(build_s, 4), "count_s": round(count_s, 4),
            "total_paths_digits": len(str(counts.total)), "exact": counts.total == 2**n,
            "target_s": 2.0}


def dp_vs_enumeration_16() -> dict:
    graph = tower(16)
    dp_s, dp = _timed(count_paths, graph, repeat=5)
    enum_s, enum = _timed(count_by_enumeration, graph, repeat=1)
    return {"blocks": 16, "paths": dp.total, "dp_s": round(dp_s, 6),
            "enumeration_s": round(enum_s, 3),
            "ratio": round(enum_s / dp_s), "agree": dp == enum}


BENCHMARKS = [tower_1000, dp_vs_enumeration_16]
