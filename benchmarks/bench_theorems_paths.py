"""Speed of the symbolic core (R1, R4): the R1 identity at n = 12 and ``tables paths``.

Figures only, never asserted. ``r1_identity_n12`` proves R1 at depth 12 (4096 non-commuting
monomials, expanded product against the explicit subset sum); ``tables_paths_200`` builds
``resdepth tables paths --max-depth 200`` (20,300 rows, tree counts up to N(200, 200), 1,518
bits) in process from a cold cache and from the warm one, and as the command a user types (a
fresh interpreter, imports included: the figure the 1 s aim is about); ``tables_trees`` the
weighted sums at depth 200, order 10.
"""

import argparse
import subprocess
import sys
import time

from benchmarks.timing import best_time
from resdepth.tables import paths, trees
from resdepth.tables.formats import render
from theorems import counting
from theorems.linear_paths import verify_r1


def r1_identity_n12() -> dict:
    start = time.perf_counter()
    result = verify_r1(12)
    return {"seconds": time.perf_counter() - start, "holds": result["holds"],
            "terms": result["total"]}


def tables_paths_200() -> dict:
    counting._TREES = counting._TreeTable()
    start = time.perf_counter()
    rows = paths.build(argparse.Namespace(max_depth=200))
    text = render(rows, "json")
    cold = time.perf_counter() - start
    start = time.perf_counter()
    render(paths.build(argparse.Namespace(max_depth=200)), "json")
    warm = time.perf_counter() - start
    command = [sys.executable, "-m", "resdepth.cli", "tables", "paths", "--max-depth", "200",
               "--format", "json"]
    wall = best_time(lambda: subprocess.run(command, check=True, stdout=subprocess.DEVNULL), 3)
    return {"seconds_cold": cold, "seconds_warm": warm, "command_wall_s": wall, "aim_s": 1.0,
            "rows": len(rows), "json_bytes": len(text)}


def tables_trees_200_10() -> dict:
    counting._WEIGHTED = counting._WeightedSeries()
    start = time.perf_counter()
    rows = trees.build(argparse.Namespace(max_depth=200, max_order=10))
    return {"seconds": time.perf_counter() - start, "rows": len(rows)}


BENCHMARKS = [r1_identity_n12, tables_paths_200, tables_trees_200_10]
