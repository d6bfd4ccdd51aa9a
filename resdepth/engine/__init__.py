"""resdepth's bottom floor: the row format and verdict rule, the check registry, THEORY.md's labels,
the store, the sweep backends, the one training loop into the store, and the policy (every
tolerance and quick/full budget by label).

Nothing here imports another part of resdepth (docs/ARCHITECTURE.md; tests/test_architecture.py
enforces it).
"""
