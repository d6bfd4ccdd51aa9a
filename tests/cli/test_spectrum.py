"""``resdepth spectrum``: JSON/md output, R2's exactness on random and checkpointed models."""

import json

import pytest
import torch

from numerics.models.checkpoint import save_checkpoint
from numerics.models.config import ModelConfig
from numerics.models.networks import build_model
from resdepth.cli import main


def run_json(capsys, *argv):
    assert main(["spectrum", *argv, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_R2_spectrum_command_json(capsys):
    payload = run_json(capsys, "--depth", "7", "--width", "6", "--hidden", "9", "--lam", "0.8",
                       "--seed", "3", "--batch", "5")
    assert payload["depth"] == 7 and payload["hidden"] == 9
    assert payload["lam"] == pytest.approx(0.8)
    assert len(payload["norms_by_length"]) == 8
    assert payload["max_rel_error"] <= 1e-9
    assert sum(payload["binomial_shares"]) == pytest.approx(1.0)
    assert sum(payload["energy_shares"]) == pytest.approx(1.0)


def test_R2_spectrum_command_markdown_and_plot(capsys, tmp_path):
    plot = tmp_path / "spectrum.png"
    assert main(["spectrum", "--depth", "4", "--plot", str(plot)]) == 0
    text = capsys.readouterr().out
    assert "max ||sum_k y_k - x_n||" in text and "| 4 |" in text and "o" in text
    assert plot.stat().st_size > 1000


def test_R2_terms_below_the_rounding_floor_are_null_with_a_reason(capsys, tmp_path,
                                                                   drawn_figures):
    """lam = 0.05 at depth 12: y_12 ~ 0.05^12 ||J||^12 is below (n + 1) eps sum_k ||y_k||, so it
    is written null (JSON), "below floor" (md) and marked at the floor line (plot)."""
    from numerics.probes.rounding import REASON

    argv = ["--depth", "12", "--lam", "0.05", "--batch", "8"]
    payload = run_json(capsys, *argv, "--plot", str(tmp_path / "s.png"))
    below = payload["below_floor"]
    assert below["reason"] == REASON and 12 in below["lengths"] and 0 not in below["lengths"]
    floor = payload["rounding_floor"]
    assert 0 < floor < 1e-12
    for k, norm in enumerate(payload["norms_by_length"]):
        assert (norm is None) == (k in below["lengths"])
        assert norm is None or norm >= floor
    assert payload["energy_shares"][12] is None and payload["signed_shares"][12] is None
    (ax,) = drawn_figures[0].axes
    assert ax.get_yscale() == "log"
    assert any(len(line.get_ydata()) == 2 and line.get_ydata()[0] == floor
               for line in ax.get_lines())
    assert main(["spectrum", *argv]) == 0
    assert "| 12 | below floor |" in capsys.readouterr().out


def test_R2_spectrum_json_has_no_floor_marks_when_every_term_is_measured(capsys):
    payload = run_json(capsys, "--depth", "4", "--lam", "0.8")
    assert payload["below_floor"] is None and None not in payload["norms_by_length"]


def _checkpoint_folder(tmp_path):
    cfg = ModelConfig(depth=3, width=8, lam=0.6)
    model = build_model(cfg, 64, 10, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.normal_(generator=torch.Generator().manual_seed(2))
    folder = tmp_path / "run"
    folder.mkdir()
    save_checkpoint(folder / "model.pt", model, cfg, 64, 10, meta={"dataset": "digits", "seed": 0})
    return folder


def test_R2_spectrum_command_on_a_checkpoint_uses_its_test_split(capsys, tmp_path):
    folder = _checkpoint_folder(tmp_path)
    for path in (folder, folder / "model.pt"):
        payload = run_json(capsys, "--checkpoint", str(path), "--batch", "16")
        assert payload["inputs"] == "digits test split (seed 0), first 16 examples"
        assert len(payload["blocks"]) == 3 and payload["max_rel_error"] <= 1e-10
        assert sum(payload["signed_shares"]) == pytest.approx(1.0, abs=1e-10)
        assert payload["blocks"][0]["branches"][0]["multiplier"] == pytest.approx(0.6)
        assert {g["gate"] for g in payload["gates"]} == {"relu mask (R2 exactly)"}


@pytest.mark.parametrize("norm", ["pre", "post", "batch"])
def test_R2_spectrum_command_normalised_towers_through_frozen_gates(capsys, norm):
    payload = run_json(capsys, "--depth", "3", "--norm", norm, "--batch", "5")
    assert payload["max_rel_error"] <= 1e-10 and len(payload["blocks"]) == 3
    if norm == "post":
        assert {b["gate"] for b in payload["blocks"]} == {"layer_norm"}


def test_spectrum_warns_past_the_exact_tolerance(capsys, monkeypatch):
    import numerics.probes.spectrum as spectrum

    monkeypatch.setattr(spectrum.Spectrum, "max_rel_error", lambda self: 1e-8)
    payload = run_json(capsys, "--depth", "3")
    assert "exceeds" in payload["warning"]
    assert main(["spectrum", "--depth", "3"]) == 0
    assert "warning: max_rel_error" in capsys.readouterr().err


@pytest.mark.parametrize("argv,message", [
    (["--checkpoint", "missing.pt"], "no checkpoint"),
    (["--depth", "5000"], "exceeds"),
    (["--depth", "200", "--norm", "post"], "exceeds 128"),
    (["--width", "100000"], "GiB"),
    (["--depth", "3", "--plot", "README.md/x.png"], "--plot"),
    (["--inputs", "m:f"], "apply to --model or --checkpoint"),
    (["--depth", "3", "--top-k", "2"], "--top-k applies to --output logits"),
    (["--checkpoint", "missing.pt", "--top-k", "2"], "--top-k applies to --output logits"),
])
def test_spectrum_command_errors_are_one_line(capsys, argv, message):
    assert main(["spectrum", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_spectrum_command_rejects_conflicting_and_bad_arguments(capsys, tmp_path):
    folder = _checkpoint_folder(tmp_path)
    assert main(["spectrum", "--checkpoint", str(folder), "--depth", "3"]) == 2
    assert "--depth" in capsys.readouterr().err
    assert main(["spectrum", "--checkpoint", str(folder), "--norm", "pre"]) == 2
    assert "--norm" in capsys.readouterr().err
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint" * 20)
    assert main(["spectrum", "--checkpoint", str(junk)]) == 2
    err = capsys.readouterr().err
    assert "not a readable resdepth checkpoint" in err and "weights_only" not in err
    with pytest.raises(SystemExit):
        main(["spectrum", "--lam", "nan"])


MY_MODEL = '''
import torch
from torch import nn


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.f = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 4))
        self.g = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 4))

    def forward(self, x):
        x = x + self.f(x)
        return x + self.g(x)


def make():
    return Residual().eval()


def inputs():
    return torch.randn(5, 4, generator=torch.Generator().manual_seed(1))
'''


def test_R2_spectrum_takes_a_model_file_from_any_folder(capsys, tmp_path, monkeypatch,
                                                        drawn_figures):
    """--model path/to/file.py:FACTORY works wherever the command runs (the README's tour), and
    its --plot is rms ||y_k|| on a log scale with a fitted binomial law and the rounding floor;
    a module that does not import says where it looked and how to name the file instead."""
    source = tmp_path / "models" / "mine.py"
    source.parent.mkdir()
    source.write_text(MY_MODEL, encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    payload = run_json(capsys, "--model", f"{source}:make", "--inputs", f"{source}:inputs",
                       "--plot", str(tmp_path / "mine.png"))
    assert len(payload["blocks"]) == 2 and payload["max_rel_error"] <= 1e-10
    (ax,) = drawn_figures[0].axes
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert ax.get_yscale() == "log" and any("binomial law fitted" in t for t in labels)
    assert any(f"{payload['rounding_floor']:.1e}" in t for t in labels)
    assert main(["spectrum", "--model", "models.mine:make", "--inputs", "models.mine:inputs"]) == 2
    err = capsys.readouterr().err
    assert "cannot import 'models.mine'" in err and "path/to/models/mine.py:make" in err
    assert len(err.strip().splitlines()) == 1
