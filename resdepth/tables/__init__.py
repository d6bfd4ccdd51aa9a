"""Closed-form tables for ``resdepth tables KIND``, one module per kind.

Each module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``build(args) -> list[dict]``
(rows with the same keys; exact integers stay integers). ``KINDS`` lists the modules in the order
``--help`` shows them.
"""

KINDS = ("paths", "trees", "signal", "scaling", "schemes", "guarantees")
