"""R2 / S7: Veit's lesion study on a trained conv ResNet (a tiny one here; the command's
default is 27 blocks)."""

import json
from pathlib import Path

import pytest

from resdepth.cli import main

HAS_FASHION = Path("/usr/share/datasets/fashion-mnist").is_dir()


@pytest.mark.slow
@pytest.mark.skipif(not HAS_FASHION, reason="Debian's dataset-fashion-mnist is not installed")
def test_R2_veit_lesion_writes_curve_prediction_plot_and_verdict(tmp_path):
    from resdepth.experiment.veit import run_veit

    row = run_veit(tmp_path, depth=1, width=2, n_train=100, epochs=1, draws=2, n_eval=40,
                   probe_n=2)
    assert row.label == "R2" and row.verdict in ("pass", "fail", "inconclusive")
    found = json.loads((tmp_path / "lesion.json").read_text())
    assert [r["m"] for r in found["curve"]] == [1]
    details = found["row"]["details"]
    assert details["shape_changing_blocks"] == [1, 2]
    assert len(details["singles"]) == 3 and len(details["kept_predicted"]) == 1
    assert details["spectrum_max_rel_error"] < 1e-10
    assert sum(details["signed_shares"]) == pytest.approx(1.0, abs=1e-9)
    assert (tmp_path / "veit_lesion.png").read_bytes()[:4] == b"\x89PNG"


def test_R2_veit_lesion_needs_27_blocks(tmp_path, capsys):
    assert main(["experiment", "veit-lesion", "--depths", "4", "--out", str(tmp_path)]) == 2
    assert "27 blocks" in capsys.readouterr().err
