"""Sub-commands of the ``resdepth`` command line, one module each (see :mod:`resdepth.cli`)."""
