"""resdepth: the command line, the checks that join theorems/graphs/numerics, reports and sweeps."""

__version__ = "0.1.0"
