"""The underfitting analysis of S7(d): per-block gradient norms, their summary, table and plot."""

import math

import numpy as np
import pytest
import torch

from numerics.models.config import ModelConfig
from numerics.models.networks import build_model
from resdepth.experiment.gradients import gradient_cells, gradient_markdown, gradient_plot
from resdepth.experiment.measure import block_gradients, gradient_summary, measure


def _model(norm="none", depth=4, scaling="inv-sqrt"):
    cfg = ModelConfig(arch="mlp", depth=depth, width=6, norm=norm, scaling=scaling)
    return build_model(cfg, 5, 3, generator=torch.Generator().manual_seed(0)).double()


def test_S7_block_gradients_are_autograds_per_block_norms():
    model = _model()
    x = torch.randn(16, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    y = torch.arange(16) % 3
    norms = block_gradients(model, x, y)
    loss = torch.nn.functional.cross_entropy(model(x), y)
    for block, g in zip(model.blocks, norms, strict=True):
        grads = torch.autograd.grad(loss, list(block.parameters()), retain_graph=True)
        assert g == pytest.approx(math.sqrt(sum(float(v.pow(2).sum()) for v in grads)), rel=1e-12)
    assert len(set(norms)) == len(norms)  # per block, not one number repeated
    assert all(p.grad is None for p in model.parameters())  # leaves no gradient behind


def test_S7_gradient_summary_last_over_first_and_spread():
    found = gradient_summary([1.0, 10.0, 0.1, 100.0])
    assert found["grad_last_first"] == pytest.approx(2.0)
    assert found["grad_spread"] == pytest.approx(3.0)
    assert gradient_summary([1.0, 0.0])["grad_spread"] is None
    assert gradient_summary([1.0, math.nan])["grad_last_first"] is None


@pytest.mark.parametrize("norm", ["none", "pre", "batch"])
def test_S7_measure_records_the_gradient_per_block_on_a_training_batch(norm):
    model = _model(norm=norm, scaling="inv-sqrt" if norm == "none" else "constant")
    gen = torch.Generator().manual_seed(2)
    x, y = torch.randn(32, 5, generator=gen), torch.arange(32) % 3
    found = measure(model, x, 8, batch_statistics=True, batch=(x, y))
    assert len(found["grad_norms"]) == 4 and all(g > 0 for g in found["grad_norms"])
    assert found["grad_spread"] >= abs(found["grad_last_first"])
    assert "grad_norms" not in measure(model, x, 8)  # only with a batch


def _records(rule, depth, lr, curves):
    """One tune record per seed; ``curves`` maps 'initial'/'trained' to per-block norms."""
    out = []
    for seed in range(5):
        m = {when: {"signal_ratio": 2.0, "grad_norms": list(norms),
                    **gradient_summary(list(norms))} for when, norms in curves.items()}
        out.append({"group": "tune", "rule": rule, "depth": depth, "lr": lr, "seed": seed,
                    "train_loss": 0.5, "measurements": m})
    return out


def test_S7_gradient_cells_read_the_chosen_rate_and_the_plot_draws_each_rule(tmp_path,
                                                                               drawn_figures):
    vanishing = {"initial": [1.0, 0.1, 0.01], "trained": [1.0, 1.0, 1.0]}
    flat = {"initial": [1.0, 1.0, 1.0], "trained": [1.0, 1.0, 1.0]}
    records = (_records("pre-ln", 3, 1e-2, vanishing) + _records("pre-ln", 3, 3e-2, flat)
               + _records("inv-sqrt", 3, 1e-2, flat))
    table = {("pre-ln", 3): {"lr": 1e-2}, ("inv-sqrt", 3): {"lr": 1e-2}}
    cells = gradient_cells(records, table)
    assert cells["pre-ln", 3]["grad_last_first_initial"] == pytest.approx(-2.0)
    assert cells["pre-ln", 3]["seeds"] == 5  # the chosen rate's seeds, not the other rate's
    assert cells["inv-sqrt", 3]["grad_spread_initial"] == pytest.approx(0.0)
    assert "| pre-ln | 3 | 0.01 | 0.500 |" in gradient_markdown(records, table)
    gradient_plot(records, table, tmp_path / "g.png")
    (fig,) = drawn_figures
    lines = {line.get_label(): line.get_ydata() for line in fig.axes[0].get_lines()}
    assert np.allclose(lines["pre-ln, init"], [0.0, -1.0, -2.0])
    assert set(lines) == {"pre-ln, init", "pre-ln, trained", "inv-sqrt, init",
                          "inv-sqrt, trained"}
