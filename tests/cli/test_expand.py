"""``resdepth expand`` and ``resdepth tables guarantees`` end to end (tiny), and the command's
refusals: bad paths and sizes are one-line errors before any training."""

import json

import pytest

import resdepth.commands.expand as expand_command
from resdepth.cli import main


def test_expand_writes_table_json_and_plots(tmp_path, capsys):
    code = main(["expand", "--depth", "1", "--width", "8", "--at", "1", "--epochs", "1",
                 "--extra-epochs", "1", "--n-train", "64", "--seeds", "2", "--splits", "50",
                 "--device", "cpu", "--out", str(tmp_path)])
    assert code == 0
    saved = json.loads((tmp_path / "expand.json").read_text())
    summary = saved["summary"]
    assert summary["at"] == 1 and summary["d1_max_deviation"] < 1e-3
    assert summary["observed"] == (summary["observability_z"] < -1.6448536269514722)
    assert 0 <= summary["misalignment"] <= 1 and summary["seeds"] == 2
    for key in ("m_route_p", "m_route_e"):
        assert summary[key] is None or summary[key] >= 1
    lo, hi = saved["comparison"]["longer_minus_expanded"][1:]
    assert lo <= hi and len(saved["per_seed"]) == 2
    for name in ("expand.md", "line_search.png", "comparison.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert "observability z" in capsys.readouterr().out


def _no_training(*args, **kwargs):
    raise AssertionError("expand trained a model before refusing its input")


@pytest.mark.parametrize("argv, message", [
    (["expand", "--depth", "2", "--at", "3"], "--at must lie"),
    (["expand", "--dataset", "modular-addition", "--depth", "2"], "token inputs"),
    (["expand", "--width", "1"], "width >= 2"),
    (["expand", "--depth", "100000"], "capped at depth"),
    (["expand", "--width", "1024", "--n-train", "100000"], "GiB"),
])
def test_expand_bad_input_is_one_line_before_training(tmp_path, capsys, monkeypatch, argv,
                                                       message):
    monkeypatch.setattr(expand_command, "fit", _no_training)
    assert main(argv + ["--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_expand_out_that_is_a_file_fails_before_training(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(expand_command, "fit", _no_training)
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert main(["expand", "--out", str(afile)]) == 2
    err = capsys.readouterr().err
    assert "not a folder" in err and "Traceback" not in err


def test_expand_rejects_negative_depth(capsys):
    with pytest.raises(SystemExit) as info:
        main(["expand", "--depth", "-1", "--out", "x"])
    assert info.value.code == 2


def test_tables_guarantees_rows_carry_parameters(capsys):
    assert main(["tables", "guarantees", "--d", "8", "--L", "3", "--width", "8", "--margin",
                 "0.1", "--m", "1000", "100000", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["m"] for r in rows] == [1000, 100000]
    for row in rows:
        assert (row["d"], row["L"], row["width"], row["margin"], row["delta"]) == (8, 3, 8, 0.1,
                                                                                  0.05)
        assert row["head_bound"] < row["class_bound"]
        assert row["route_e_slack"] < row["route_p_slack"]
        assert row["m_route_e"] <= row["m_route_p"]
        assert row["restricted_e_slack"] < row["restricted_p_slack"]
        assert row["m_restricted_e"] <= row["m_restricted_p"]


def test_tables_guarantees_restricted_class_reproduces_the_closed_form(capsys):
    """The restricted columns are theorems/guarantees.py's numbers for the given q, beta, lam."""
    from theorems.guarantees import (
        restricted_rademacher,
        restricted_route_p_slack,
        restricted_sample_size,
    )

    assert main(["tables", "guarantees", "--d", "8", "--q", "3.5", "--beta", "0.1", "--lam", "1",
                 "--loss-bound", "0.5", "--margin", "0.04", "--m", "32768",
                 "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    rad = restricted_rademacher(3.5, 32768, beta=0.1, lam=1.0, d=8)
    assert row["restricted_p_slack"] == restricted_route_p_slack(rad, 32768, 0.05,
                                                                 loss_bound=0.5)
    assert row["m_restricted_p"] == restricted_sample_size("P", 0.04, 0.05, loss_bound=0.5,
                                                           q=3.5, beta=0.1, lam=1.0, d=8)
    assert row["m_restricted_p"] < 32768  # certifies at the m the D4 check runs in quick mode


def test_tables_guarantees_bad_delta_exits_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["tables", "guarantees", "--delta", "1.5"])
    assert info.value.code == 2
