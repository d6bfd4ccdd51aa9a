"""The R1/R4 graph checks pass, and their comparison catches a wrong count."""

from resdepth.checks import CheckContext, load_checks
from resdepth.checks.graph_counts import (
    _mismatches,
    graph_chain_counts,
    tower_chain_counts,
    traced_model_counts,
)


def test_R1_R4_graph_checks_pass_quick():
    rows = [row for check in (tower_chain_counts, graph_chain_counts, traced_model_counts)
            for row in check(CheckContext(quick=True))]
    assert rows and all(row.verdict == "pass" and row.statistic == 0 for row in rows)
    assert all(row.power.informative() for row in rows)
    assert {row.label for row in rows} == {"R1", "R4"}
    registered = {r.check for label in ("R1", "R4") for r in load_checks()[label]}
    assert {tower_chain_counts, graph_chain_counts, traced_model_counts} <= registered


def test_comparison_catches_wrong_counts():
    assert _mismatches((1, 3, 3, 1), [1, 3, 3, 1]) == 0
    assert _mismatches((1, 3, 3, 1), [1, 3, 3]) == 1
    assert _mismatches((1, 2, 3, 1), [1, 3, 3, 1]) == 1


def test_R1_check_writes_its_plot(tmp_path):
    rows = tower_chain_counts(CheckContext(quick=True, out_dir=tmp_path))
    plotted = [row.plot for row in rows if row.plot]
    assert plotted == ["R1_tower_path_lengths.png"]
    assert (tmp_path / plotted[0]).stat().st_size > 0
