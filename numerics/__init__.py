"""PyTorch models, offline datasets, training and probes that measure THEORY.md's statements.

This package never imports ``theorems`` or ``graphs``.
"""
