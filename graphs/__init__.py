"""Computation DAGs of residual architectures (networkx) and exact path counts by length.

- :mod:`graphs.builders`: DAGs from a spec (tower, Transformer, parallel branches, deep
  branches, projection shortcuts); edges carry their block index and kind (skip or branch).
- :mod:`graphs.trace`: the same DAG built from a plain description of a traced model's blocks
  (numerics' tracer produces it; this package imports no torch).
- :mod:`graphs.counting`: paths by length by dynamic programming (exact integers), and
  enumeration as a small-graph oracle.
- :mod:`graphs.export`: GraphML and DOT; :mod:`graphs.plot`: the length law against the binomial.

This package never imports ``theorems``, ``numerics`` or ``resdepth``.
"""
