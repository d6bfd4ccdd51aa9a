"""``resdepth paths``: exact JSON counts, markdown, exports, --model, one-line errors."""

import json
import math
from fractions import Fraction

import pytest

from resdepth.cli import build_parser, main


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(["paths", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv, blocks, by_length", [
    (["--arch", "tower", "--blocks", "3"], 3, [1, 3, 3, 1]),
    (["--arch", "parallel", "--blocks", "2", "--branches", "3"], 2, [1, 6, 9]),
    (["--arch", "parallel", "--blocks", "2"], 2, [1, 4, 4]),
    (["--arch", "transformer", "--blocks", "1"], 1, [1, 2, 1]),
])
def test_R4_json_output(capsys, argv, blocks, by_length):
    code, out, _ = run(capsys, *argv, "--format", "json")
    assert code == 0
    payload = json.loads(out)
    assert list(payload) == ["arch", "blocks", "total_paths", "by_length"]
    assert payload == {"arch": argv[1], "blocks": blocks, "total_paths": sum(by_length),
                       "by_length": by_length}


def test_R1_json_is_exact_at_depth_1000(capsys):
    code, out, _ = run(capsys, "--arch", "tower", "--blocks", "1000", "--format", "json")
    payload = json.loads(out)
    assert code == 0 and payload["total_paths"] == 2**1000
    assert payload["by_length"] == [math.comb(1000, k) for k in range(1001)]


def test_markdown_and_exports(capsys, tmp_path):
    files = {flag: tmp_path / name for flag, name in
             (("--graphml", "g.graphml"), ("--dot", "g.dot"), ("--plot", "g.png"))}
    argv = [x for flag, path in files.items() for x in (flag, str(path))]
    code, out, _ = run(capsys, "--arch", "tower", "--blocks", "4", *argv)
    assert code == 0
    assert out.startswith("tower, 4 blocks: 16 paths; length in blocks: mean 2 (2), variance 1 (1)")
    assert "| 2 | 6 | 0.375 | 0.375 |" in out
    assert all(path.stat().st_size > 0 for path in files.values())


MODEL_SOURCE = """
from torch import nn

class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.f = nn.Linear(4, 4)

    def forward(self, x):
        return x + self.f(x)

def make():
    return nn.Sequential(Block(), Block(), Block(), Block(), Block())

def broken():
    raise RuntimeError("no weights")

def not_a_model():
    return 3
"""


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    name = f"user_model_{tmp_path.name}"
    (tmp_path / f"{name}.py").write_text(MODEL_SOURCE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def test_R4_traced_user_model(capsys, user_module):
    code, out, _ = run(capsys, "--model", f"{user_module}:make", "--format", "json")
    assert code == 0
    assert json.loads(out) == {"arch": f"{user_module}:make", "blocks": 5, "total_paths": 32,
                               "by_length": [1, 5, 10, 10, 5, 1]}


@pytest.mark.parametrize("suffix, message", [
    (":broken", "raised RuntimeError: no weights"),
    (":not_a_model", "returned int, not an nn.Module"),
    (":missing", "has no callable 'missing'"),
    ("", "expects MODULE:FACTORY"),
])
def test_bad_user_models(capsys, user_module, suffix, message):
    code, out, err = run(capsys, "--model", user_module + suffix)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err


@pytest.mark.parametrize("argv, message", [
    (["--arch", "tower"], "needs --blocks N"),
    (["--arch", "tower", "--blocks", "3", "--branches", "2"], "only to --arch parallel"),
    (["--arch", "tower", "--blocks", "9999"], "at most 2000"),
    (["--model", "no_such_module_here:f"], "cannot import"),
    (["--model", "m:f", "--blocks", "3"], "--model brings its own"),
    (["--arch", "tower", "--blocks", "3", "--measure", "layers", "--plot", "x.png"], "--plot"),
    (["--arch", "tower", "--model", "m:f"], "exactly one of --arch or --model"),
    ([], "exactly one of --arch or --model"),
    (["--arch", "tower", "--blocks", "3", "--dot", "README.md/g.dot"], "--dot"),
])
def test_bad_arguments_one_line(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err


@pytest.mark.parametrize("argv", [
    ["--arch", "tower", "--blocks", "0"],
    ["--arch", "ring", "--blocks", "3"],
])
def test_argparse_rejects(capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        main(["paths", *argv])
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err


TRANSFORMER_SOURCE = """
import torch
from torch import nn
from numerics.models.zoo import tiny_transformer

def bert():
    return tiny_transformer("bert")[0]

def tokens():
    return tiny_transformer("bert")[1][0]

class Shortcut(nn.Module):
    def __init__(self):
        super().__init__()
        self.mlp, self.shortcut = nn.Linear(4, 4), nn.Identity()

    def forward(self, x):
        return self.shortcut(x) + self.mlp(x)

class TwoBranch(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn, self.mlp = nn.Linear(4, 4), nn.Linear(4, 4)

    def forward(self, x):
        return x + self.attn(x) + self.mlp(x)

def identity_shortcuts():
    return nn.Sequential(Shortcut(), Shortcut())

def two_branches():
    return nn.Sequential(TwoBranch(), TwoBranch(), TwoBranch())

def vectors():
    return torch.randn(3, 4)
"""


@pytest.fixture
def hf_module(tmp_path, monkeypatch):
    pytest.importorskip("transformers")
    name = f"hf_model_{tmp_path.name}"
    (tmp_path / f"{name}.py").write_text(TRANSFORMER_SOURCE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def test_R4_bert_traced_with_export_names_its_branches(capsys, hf_module, tmp_path):
    dot = tmp_path / "out" / "bert.dot"
    code, out, err = run(capsys, "--model", f"{hf_module}:bert", "--inputs", f"{hf_module}:tokens",
                         "--format", "json", "--dot", str(dot))
    assert code == 0, err
    assert json.loads(out)["by_length"] == [1, 4, 6, 4, 1]
    text = dot.read_text()
    assert '"attention1.1.1"' in text and '"intermediate2.1.1"' in text and '"f1' not in text


@pytest.mark.parametrize("inputs", [False, True])
def test_identity_shortcuts_are_not_projections(capsys, hf_module, tmp_path, inputs):
    dot = tmp_path / "g.dot"
    argv = ["--model", f"{hf_module}:identity_shortcuts", "--dot", str(dot)]
    argv += ["--inputs", f"{hf_module}:vectors"] if inputs else []
    code, _, err = run(capsys, *argv)
    assert code == 0, err
    assert "projection" not in dot.read_text() and '"mlp1.1.1"' in dot.read_text()


def test_R4_two_branch_plot_uses_p_two_thirds(capsys, hf_module, tmp_path, monkeypatch):
    import resdepth.commands.paths as paths

    seen = {}
    monkeypatch.setattr(paths, "plot_path_lengths",
                        lambda counts, path, p, title: seen.update(p=p))
    code, out, err = run(capsys, "--model", f"{hf_module}:two_branches", "--inputs",
                         f"{hf_module}:vectors", "--plot", str(tmp_path / "p.png"))
    assert code == 0, err
    assert seen["p"] == Fraction(2, 3) and "27 paths" in out


def test_help_warns_that_model_runs_code():
    paths = build_parser("paths")._subparsers._group_actions[0].choices["paths"]
    assert "RUNS THAT CODE" in paths.format_help()
