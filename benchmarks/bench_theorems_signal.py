"""Speed of the S1-S5 closed forms: ``tables signal --max-depth 10000`` (target < 1 s).

Figures: the in-process table build and JSON rendering (the part this module owns), the whole
``resdepth tables signal`` command in a fresh interpreter (which also pays Python's and the
command line's import time), the S4 table's symbolic limits and the S5 table.
"""

import subprocess
import sys
import time

from benchmarks.timing import best_time
from resdepth.tables import scaling, schemes, signal
from resdepth.tables.formats import render


def signal_table_10000() -> dict:
    """``tables signal --max-depth 10000`` in process: build rows, render JSON and md."""
    build = best_time(lambda: signal.compute(1.0, 1.0, "none", 10_000, 64))
    rows = signal.compute("inv-sqrt", 1.0, "none", 10_000, 64)
    to_json = best_time(lambda: render(rows, "json"))
    to_md = best_time(lambda: render(rows, "md"))
    return {"build_s": build, "json_s": to_json, "md_s": to_md, "total_json_s": build + to_json,
            "target_s": 1.0}


def signal_table_10000_cli() -> dict:
    """The whole command in a fresh interpreter, start-up included."""
    command = [sys.executable, "-m", "resdepth", "tables", "signal", "--max-depth", "10000",
               "--format", "json", "--out", "/dev/null"]
    wall = best_time(lambda: subprocess.run(command, check=True), repeats=2)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import resdepth.cli"], check=True)
    bare = time.perf_counter() - start
    return {"cli_wall_s": wall, "python_startup_and_cli_import_s": bare}


def scaling_and_schemes_tables() -> dict:
    """S4 (15 SymPy limits) and S5 (symbolic beta per scheme) tables."""
    return {"scaling_s": best_time(lambda: scaling.compute(1.0, 1.0, [10, 100, 1000, 10000]), 1),
            "schemes_s": best_time(lambda: schemes.compute(1.0, [8, 64, 512]), 1)}


BENCHMARKS = [signal_table_10000, signal_table_10000_cli, scaling_and_schemes_tables]
