"""numerics' probes room: one module per THEORY.md statement, named by what it measures, with its
label in the first line of its docstring (spectrum: R2; montecarlo: S2, S3; rademacher: D3; ...).

Probes take models built in :mod:`numerics.models` (or any ``nn.Module`` for the real-model probes
in :mod:`numerics.real`) and return numbers; they never decide a verdict.
"""
