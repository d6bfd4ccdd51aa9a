"""Computation DAGs of residual architectures (networkx) and exact path counts by length.

This package never imports ``theorems`` or ``numerics``.
"""
