"""Issue 21: degenerate and non-finite models read as 'cannot judge', never as 'theory fails';
``probe`` and ``lesion`` give one verdict per model and seed, and ``lesion`` exits 1 on a fail."""

import json
from pathlib import Path

import pytest

from resdepth.cli import main

SOURCE = """
import torch
from torch import nn
from numerics.models.zoo import resnet_cnn

class Bottleneck(nn.Module):
    '''torchvision's Bottleneck written out, its last BatchNorm zero-initialised
    (zero_init_residual=True): every branch is exactly 0 at initialisation.'''
    def __init__(self, width):
        super().__init__()
        inner = width // 2
        self.conv1, self.bn1 = nn.Conv2d(width, inner, 1, bias=False), nn.BatchNorm2d(inner)
        self.conv2 = nn.Conv2d(inner, inner, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(inner)
        self.conv3, self.bn3 = nn.Conv2d(inner, width, 1, bias=False), nn.BatchNorm2d(width)
        nn.init.zeros_(self.bn3.weight)

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = torch.relu(self.bn2(self.conv2(out)))
        return torch.relu(x + self.bn3(self.conv3(out)))

class ZeroResNet(nn.Module):
    def __init__(self, width=8, blocks=3):
        super().__init__()
        self.stem = nn.Conv2d(3, width, 3, padding=1, bias=False)
        self.blocks = nn.Sequential(*[Bottleneck(width) for _ in range(blocks)])
        self.head = nn.Linear(width, 4)

    def forward(self, x):
        return self.head(self.blocks(self.stem(x)).mean((2, 3)))

def zero_resnet():
    torch.manual_seed(0)
    return ZeroResNet().double().eval()

def nan_resnet():
    model = resnet_cnn()[0]
    with torch.no_grad():
        next(model.parameters()).view(-1)[0] = float("nan")
    return model

def resnet():
    return resnet_cnn()[0]

def images():
    return resnet_cnn()[1]

def deep_resnet():
    return resnet_cnn((8,) * 6 + (16,))[0]
"""

SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "results.schema.json"
THEORY = {"R2", "R5", "S2", "S3", "D1"}


@pytest.fixture
def user(tmp_path, monkeypatch):
    name = f"degenerate_models_{tmp_path.name}"
    (tmp_path / f"{name}.py").write_text(SOURCE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def _probe(user, tmp_path, model):
    out = tmp_path / model
    code = main(["probe", "--model", f"{user}:{model}", "--inputs", f"{user}:images",
                 "--out", str(out), "--draws", "4"])
    document = json.loads((out / "results.json").read_text())
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(document, json.loads(SCHEMA.read_text()))
    return code, document["rows"]


def test_probe_on_a_zero_branch_resnet_fails_no_theory_row(capsys, user, tmp_path):
    code, rows = _probe(user, tmp_path, "zero_resnet")
    theory = [r for r in rows if r["label"] in THEORY]
    assert theory and not [r for r in theory if r["verdict"] == "fail"], theory
    lesion = [r for r in rows if "Veit" in r["claim"]]
    assert [r["verdict"] for r in lesion] == ["skipped"] and "changes nothing" in lesion[0]["reason"]
    assert all(r["reason"] for r in rows if r["verdict"] == "skipped")
    (signal,) = [r for r in rows if r["label"] in ("S2", "S3")]
    # S2 is a statement at initialisation: judged on the re-initialised architecture, the
    # given (zero-branch) weights only reported
    assert "at initialisation" in signal["claim"]
    assert max(signal["details"]["given_weights"]["branch_to_skip"]) == 0.0
    assert code == 0


def test_probe_on_a_nan_weight_model_skips_the_theory_rows_with_the_cause(capsys, user,
                                                                          tmp_path):
    code, rows = _probe(user, tmp_path, "nan_resnet")
    theory = [r for r in rows if r["label"] in THEORY]
    assert theory and {r["verdict"] for r in theory} == {"skipped"}
    assert all("non-finite weights: 1 entries" in r["reason"] for r in theory)
    assert code == 0


@pytest.mark.parametrize("seed", ["0", "1"])
def test_probe_and_lesion_agree_on_the_same_model_and_seed(capsys, user, tmp_path, seed):
    # 6 blocks: the deletion sets are drawn (C(6, m) > 4), sequentially, up to the default cap
    out = tmp_path / "deep"
    main(["probe", "--model", f"{user}:deep_resnet", "--inputs", f"{user}:images",
          "--out", str(out), "--seed", seed])
    rows = json.loads((out / "results.json").read_text())["rows"]
    (probe_row,) = [r for r in rows if "Veit" in r["claim"]]
    capsys.readouterr()
    code = main(["lesion", "--model", f"{user}:deep_resnet", "--inputs", f"{user}:images",
                 "--format", "json", "--seed", seed])
    payload = json.loads(capsys.readouterr().out)
    assert [c["sets"] for c in payload["curve"]] == [
        c["sets"] for c in probe_row["details"]["curve"]]
    assert sum(not c["exhaustive"] for c in payload["curve"]) >= 2  # drawn, not enumerated
    assert payload["verdict"] == probe_row["verdict"]
    assert payload["statistic"] == pytest.approx(probe_row["statistic"], rel=1e-12)
    assert payload["statistic_se"] == pytest.approx(probe_row["details"]["statistic_se"])
    assert payload["draws"] == probe_row["details"]["draws"] and payload["decided"]
    assert len(payload["singles"]) == 6 and probe_row["details"]["singles"] == []
    assert code == (1 if payload["verdict"] == "fail" else 0)


def test_lesion_draws_below_two_is_one_line(capsys, user):
    with pytest.raises(SystemExit):
        main(["lesion", "--model", f"{user}:resnet", "--inputs", f"{user}:images",
              "--draws", "1"])
    err = capsys.readouterr().err
    assert "a standard error needs two draws" in err and "Traceback" not in err


def test_lesion_exits_1_on_a_fail(capsys, user, monkeypatch):
    from resdepth.real import rows as real_rows

    monkeypatch.setattr(real_rows, "UNEXPLAINED", -1.0)  # no statistic can pass
    code = main(["lesion", "--model", f"{user}:resnet", "--inputs", f"{user}:images",
                 "--format", "json", "--draws", "2"])
    assert json.loads(capsys.readouterr().out)["verdict"] == "fail" and code == 1
