"""Symbolic statements of THEORY.md (SymPy): closed forms, exact counts and symbolic proofs.

One module per statement; each module's docstring carries the THEORY.md label it encodes.
This package never imports ``graphs`` or ``numerics``.
"""
