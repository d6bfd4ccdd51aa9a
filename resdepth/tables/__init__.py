"""Closed-form tables for ``resdepth tables KIND``, one module per kind.

Each module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``build(args) -> list[dict]``
(rows with the same keys; exact integers stay integers). ``KINDS`` lists the modules in the order
``--help`` shows them. Every kind's parser is built for ``--help``, so a kind module imports its
``theorems`` module (and with it SymPy) inside the function that computes the rows: ``resdepth
tables paths`` then loads numpy only.
"""

KINDS = ("paths", "trees", "signal", "scaling", "schemes", "guarantees")
