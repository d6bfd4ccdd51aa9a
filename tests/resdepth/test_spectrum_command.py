"""``resdepth spectrum``: JSON/md output, R2's exactness on random and checkpointed models."""

import json

import pytest
import torch

from numerics.checkpoint import save_checkpoint
from numerics.config import ModelConfig
from numerics.models import build_model
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


def test_R2_spectrum_command_on_a_checkpoint(capsys, tmp_path):
    cfg = ModelConfig(depth=5, width=8, lam=0.6)
    model = build_model(cfg, 10, 3, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.normal_(generator=torch.Generator().manual_seed(2))
    path = save_checkpoint(tmp_path / "m.pt", model, cfg, 10, 3)
    payload = run_json(capsys, "--checkpoint", str(path))
    assert payload["depth"] == 5 and payload["source"] == str(path)
    assert payload["lam"] == pytest.approx(0.6)
    assert payload["max_rel_error"] <= 1e-9


@pytest.mark.parametrize("argv,message", [
    (["--norm", "pre"], "needs --norm none"),
    (["--checkpoint", "missing.pt"], "no checkpoint"),
    (["--depth", "5000"], "exceeds"),
])
def test_spectrum_command_errors_are_one_line(capsys, argv, message):
    assert main(["spectrum", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_spectrum_command_rejects_conflicting_and_bad_arguments(capsys, tmp_path):
    path = tmp_path / "m.pt"
    cfg = ModelConfig(depth=2, width=4, activation="gelu")
    save_checkpoint(path, build_model(cfg, 3, 2), cfg, 3, 2)
    assert main(["spectrum", "--checkpoint", str(path), "--depth", "3"]) == 2
    assert "--depth" in capsys.readouterr().err
    assert main(["spectrum", "--checkpoint", str(path)]) == 2
    assert "ReLU" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["spectrum", "--lam", "nan"])
