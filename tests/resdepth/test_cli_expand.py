"""``resdepth expand``, ``resdepth tables guarantees`` and the D1-D5 checks (with their plots), end to
end (tiny)."""

import json

import pytest

from resdepth.checks import expansion, load_checks
from resdepth.checks.base import REGISTRY, CheckContext
from resdepth.cli import main


def test_expand_writes_table_and_plots(tmp_path, capsys):
    code = main(["expand", "--depth", "1", "--width", "8", "--at", "1", "--epochs", "1",
                 "--extra-epochs", "1", "--n-train", "64", "--device", "cpu",
                 "--out", str(tmp_path)])
    assert code == 0
    summary = json.loads((tmp_path / "expand.json").read_text())["summary"]
    assert summary["at"] == 1 and summary["d1_max_deviation"] < 1e-3
    for name in ("expand.md", "line_search.png", "comparison.png"):
        assert (tmp_path / name).stat().st_size > 0


@pytest.mark.parametrize("argv, message", [
    (["expand", "--depth", "2", "--at", "3"], "--at must lie"),
    (["expand", "--dataset", "modular-addition", "--depth", "2"], "token inputs"),
])
def test_expand_bad_input_exits_2(tmp_path, capsys, argv, message):
    assert main(argv + ["--out", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err


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


def test_tables_guarantees_bad_delta_exits_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["tables", "guarantees", "--delta", "1.5"])
    assert info.value.code == 2


def test_D1_checks_pass_in_quick_mode():
    load_checks()

    ctx = CheckContext(quick=True)
    rows = [row for reg in REGISTRY["D1"] if reg.check.__module__.endswith("expansion")
            for row in reg.check(ctx)]
    assert rows and all(row.verdict == "pass" for row in rows if row.kind != "empirical")


@pytest.mark.parametrize("check, name, every_row", [
    (expansion.d2_descent, "D2_line_search.png", False),
    (expansion.d3_rademacher, "D3_bounds.png", True),
    (expansion.d4_coverage, "D4_coverage.png", True),
    (expansion.d5_joint_scaling, "D5_expansion.png", True),
])
def test_D2_to_D5_checks_pass_quick_and_draw_their_plots(tmp_path, check, name, every_row):
    rows = check(CheckContext(quick=True, out_dir=tmp_path))
    assert rows and all(row.verdict == "pass" for row in rows if row.kind != "empirical")
    assert (tmp_path / name).stat().st_size > 0
    plotted = [row.plot for row in rows if row.plot is not None]
    assert plotted and set(plotted) == {name}
    assert len(plotted) == len(rows) if every_row else len(plotted) == 1
