"""``resdepth paths``: exact JSON counts, markdown, exports, --model, one-line errors."""

import json
import math

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
])
def test_bad_arguments_one_line(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err


@pytest.mark.parametrize("argv", [
    ["--arch", "tower", "--blocks", "0"],
    ["--arch", "ring", "--blocks", "3"],
    ["--arch", "tower", "--model", "m:f"],
    [],
])
def test_argparse_rejects(capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        main(["paths", *argv])
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_help_warns_that_model_runs_code():
    paths = build_parser("paths")._subparsers._group_actions[0].choices["paths"]
    assert "RUNS THAT CODE" in paths.format_help()
