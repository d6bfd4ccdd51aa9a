"""pytest plugin of resdepth (entry point ``resdepth`` in ``pytest11``): fixtures for your tests.

- ``residual_model``: a factory ``residual_model(kind, depth=2, width=16, seed=0, batch=4)``
  returning ``(model, inputs)`` (see :func:`resdepth.testing.build_residual_model`);
- ``resdepth_strategies``: the module :mod:`resdepth.strategies` (Hypothesis strategies for
  towers, depths, widths, scales, seeds).

Both fixtures are session-scoped (they hand out a factory and a module, never state), so a
Hypothesis ``@given`` test may take them without tripping the ``function_scoped_fixture`` health
check. The strategies can also be imported directly: ``from resdepth.strategies import towers``.

Nothing heavy is imported until a fixture is used.
"""

import pytest


@pytest.fixture(scope="session")
def residual_model():
    """Factory of small residual models with example inputs (float64, eval mode)."""
    from resdepth.testing import build_residual_model

    return build_residual_model


@pytest.fixture(scope="session")
def resdepth_strategies():
    """resdepth's Hypothesis strategies (``towers``, ``depths``, ``widths``, ``scales``, ...)."""
    import resdepth.strategies

    return resdepth.strategies
