"""Run the benchmarks and print their figures: ``python benchmarks/run.py [NAME ...]``.

Each ``benchmarks/bench_*.py`` module defines ``BENCHMARKS``, a list of functions that take no
argument and return a dict of figures (seconds, ratios measured side by side in one run,
sizes). Figures are printed, never asserted: speed is measured here, not in the tests.
"""

import importlib.util
import json
import pathlib
import platform
import sys

import torch

HERE = pathlib.Path(__file__).resolve().parent


def load(path: pathlib.Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(names: list[str]) -> int:
    sys.path.insert(0, str(HERE.parent))
    machine = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    print(json.dumps({"machine": machine}))
    for path in sorted(HERE.glob("bench_*.py")):
        if names and path.stem.removeprefix("bench_") not in names:
            continue
        for bench in load(path).BENCHMARKS:
            figures = bench()
            print(json.dumps({"benchmark": f"{path.stem}.{bench.__name__}", **figures}))
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
