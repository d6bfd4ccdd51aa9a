"""Real models in the CLI: loading a user's model (``MODULE:FACTORY``, examples), its probe rows and
its plots. The tracing and the probes themselves are library work in :mod:`numerics.real`.
"""
