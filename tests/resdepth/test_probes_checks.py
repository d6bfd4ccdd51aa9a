"""The probes checks (R2, R5, S2, S3, S6) pass in quick mode and declare their training runs."""

import pytest

from resdepth.checks import CheckContext, load_checks, probes
from resdepth.checks.base import train_locally

PROBE_CHECKS = [entry for label in ("R2", "R5", "S2", "S3", "S6") for entry in load_checks()[label]
                if entry.check.__module__ == probes.__name__]


@pytest.fixture(scope="module")
def context():
    cache = {}
    declared = {spec.key() for entry in PROBE_CHECKS for spec in entry.specs(CheckContext())}

    def runner(spec, device):
        assert spec.key() in declared, "a check trained a run it did not declare in needs="
        if spec.key() not in cache:
            cache[spec.key()] = train_locally(spec, device)
        return cache[spec.key()]

    return CheckContext(quick=True, runner=runner)


def test_every_probe_label_has_checks():
    assert {entry.label for entry in PROBE_CHECKS} == {"R2", "R5", "S2", "S3", "S6"}


@pytest.mark.parametrize("entry", PROBE_CHECKS, ids=lambda e: f"{e.label}-{e.check.__name__}")
def test_probe_check_passes_in_quick_mode(entry, context, tmp_path):
    context.out_dir = tmp_path
    rows = entry.check(context)
    assert rows
    for row in rows:
        assert row.label == entry.label
        assert row.verdict == "pass", row
        assert row.plot is None or (tmp_path / row.plot).stat().st_size > 0
        row.as_dict()


def test_probe_plots_are_drawn_where_the_report_wants_them(context, tmp_path):
    context.out_dir = tmp_path
    plots = {row.plot for check in (probes.r2_lesion, probes.r2_trained, probes.s2_signal)
             for row in check(context)}
    assert plots == {"R2_lesion.png", "R2_trained_spectrum.png", "S2_signal_growth.png"}
    assert all((tmp_path / name).is_file() for name in plots)
    context.out_dir = None
    assert {row.plot for row in probes.r2_lesion(context)} == {None}
