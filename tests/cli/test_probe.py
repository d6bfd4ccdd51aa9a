"""``resdepth probe`` and ``resdepth lesion`` on real models; bad input is one line, never a traceback."""

import json
from pathlib import Path

import pytest
import torch

from resdepth.cli import main

SOURCE = """
import numpy as np
import torch
from torch import nn
from numerics.models.zoo import resnet_cnn, tiny_transformer

def bert():
    return tiny_transformer("bert", layers=1)[0]

def bert_inputs():
    return {"input_ids": tiny_transformer("bert", layers=1)[1][0]}

def resnet():
    return resnet_cnn()[0]

def images():
    return resnet_cnn()[1]

def wrong_shape():
    return torch.randn(2, 5)

def wrong_dtype():
    return torch.randn(2, 5, dtype=torch.float64)

def with_nan():
    x = resnet_cnn()[1][0].clone()
    x[0, 0, 0, 0] = float("nan")
    return x

class Plain(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(3, 3), nn.Linear(3, 3)

    def forward(self, x):
        return self.b(torch.relu(self.a(x)))

class NumpyInside(nn.Module):
    def __init__(self):
        super().__init__()
        self.f = nn.Linear(3, 3)

    def forward(self, x):
        return x + torch.from_numpy(np.tanh(self.f(x).detach().numpy()))

def plain():
    return Plain()

def numpy_inside():
    return NumpyInside()

def vectors():
    return torch.randn(4, 3)
"""

SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "results.schema.json"


@pytest.fixture
def user(tmp_path, monkeypatch):
    name = f"probe_models_{tmp_path.name}"
    (tmp_path / f"{name}.py").write_text(SOURCE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def test_probe_writes_report_rows_and_plots_for_a_resnet(capsys, user, tmp_path):
    out = tmp_path / "probe"
    code = main(["probe", "--model", f"{user}:resnet", "--inputs", f"{user}:images",
                 "--out", str(out), "--draws", "2"])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    document = json.loads((out / "results.json").read_text())
    rows = {(r["label"], r["claim"].split(": ", 1)[1][:20]): r for r in document["rows"]}
    verdicts = {r["label"]: r["verdict"] for r in document["rows"] if r["kind"] == "exact"}
    assert verdicts == {"R4": "pass", "R2": "pass", "R5": "pass", "D1": "skipped"}
    assert code == (1 if any(r["verdict"] == "fail" for r in document["rows"]) else 0)
    assert {r["label"] for r in document["rows"]} >= {"R2", "R4", "R5", "S2"}
    assert all(r["criterion"] and r["power"] for r in document["rows"]
               if r["verdict"] != "skipped")
    assert [r["reason"] for r in document["rows"] if r["verdict"] == "skipped"] == [
        "D1 does not apply: no block has a LayerNorm after its add (post-LN)"]
    assert len(rows) == len(document["rows"])
    for name in ("report.md", "signal.png", "spectrum.png", "lesions.png"):
        assert (out / name).stat().st_size > 0
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(document, json.loads(SCHEMA.read_text()))


def test_probe_on_bert_has_a_d1_row(capsys, user, tmp_path):
    pytest.importorskip("transformers")
    out = tmp_path / "bert"
    main(["probe", "--model", f"{user}:bert", "--inputs", f"{user}:bert_inputs",
          "--out", str(out), "--draws", "2"])
    rows = json.loads((out / "results.json").read_text())["rows"]
    d1 = [r for r in rows if r["label"] == "D1"]
    assert len(d1) == 1 and d1[0]["details"]["positions"]
    sums = [r for r in rows if r["label"] == "R2" and r["kind"] == "exact"]
    assert all(r["verdict"] == "pass" for r in sums) and len(sums) == 2
    assert "S3" in {r["label"] for r in rows}


def test_lesion_command_json(capsys, user):
    code = main(["lesion", "--model", f"{user}:resnet", "--inputs", f"{user}:images",
                 "--format", "json", "--draws", "2"])
    payload = json.loads(capsys.readouterr().out)
    assert code == (1 if payload["verdict"] == "fail" else 0) and payload["blocks"] == 2
    assert [s["block"] for s in payload["singles"]] == [1, 2]
    assert payload["curve"][0]["kept_uniform"] == pytest.approx(0.5)


def _checkpoint_of_another_model(tmp_path) -> str:
    path = tmp_path / "other.pt"
    torch.save(torch.nn.Linear(3, 3).state_dict(), path)
    return str(path)


@pytest.mark.parametrize("argv, message", [
    (["--model", "{u}:plain", "--inputs", "{u}:vectors"], "no residual block"),
    (["--model", "{u}:numpy_inside", "--inputs", "{u}:vectors"], "cannot trace"),
    (["--model", "{u}:resnet", "--inputs", "{u}:wrong_shape"], "rejected the inputs"),
    (["--model", "{u}:resnet", "--inputs", "{u}:with_nan"], "NaN"),
    (["--model", "{u}:resnet", "--inputs", "{u}:images", "--checkpoint", "{ckpt}"],
     "does not fit the model"),
    (["--model", "{u}:resnet"], "needs --inputs"),
    (["--model", "{u}:resnet", "--inputs", "{u}:images", "--output", "logits"],
     "no such entry"),
])
def test_bad_input_is_one_line(capsys, user, tmp_path, argv, message):
    ckpt = _checkpoint_of_another_model(tmp_path)
    argv = [a.format(u=user, ckpt=ckpt) for a in argv]
    code = main(["probe", *argv, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and message in err, err


def test_wrong_dtype_for_an_embedding_is_one_line(capsys, user, tmp_path):
    pytest.importorskip("transformers")
    code = main(["spectrum", "--model", f"{user}:bert", "--inputs", f"{user}:wrong_dtype"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "rejected the inputs" in err
