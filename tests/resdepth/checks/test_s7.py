"""validate's S7 check (resdepth.checks.s7) on the pre-registered design, at a tiny grid: the
flow tunes on validation, reads the test set only after the choice, tags its rows."""

from dataclasses import replace

import pytest

from resdepth.checks import s7
from resdepth.engine.registry import CheckContext
from resdepth.experiment import design, selection, tuned

TINY = replace(design.DESIGN_BUDGETS["mlp", "quick"], depths=(2, 4), width=8, n_train=200,
               epochs=1, lrs=(1e-2, 3e-2), seeds=2, max_extensions=1, n_test=200,
               lam_depths=(2,), sweep_depths=(2,), sweep_lrs=(1e-2, 3e-2), probe_n=16)


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setattr(s7, "GRID", TINY)
    monkeypatch.setattr(s7, "dataset", lambda: ("mnist1d", "Fashion-MNIST not found: install"))
    clear = tuned._test_split.cache_clear
    clear()
    yield
    clear()


def test_S7_validate_reads_the_test_set_only_after_the_rates_are_chosen(tiny, monkeypatch,
                                                                        tmp_path):
    events = []
    real_unseal, real_split = selection.TestGate.unseal, tuned._test_split
    real_load = tuned.__dict__.get("load_dataset")
    assert real_load is None  # tuned loads data only through _test_split and design_energy

    def unseal(self, choices):
        events.append(("unseal", dict(choices)))
        return real_unseal(self, choices)

    def split(name, *args):
        events.append(("test", name))
        return real_split(name, *args)

    import numerics.models.data as data

    real_dataset = data.load_dataset

    def load_dataset(name, **kwargs):
        if name.endswith("/test") or "/" not in name:  # the test set, or a split-free load
            events.append(("test", name))
        return real_dataset(name, **kwargs)

    monkeypatch.setattr(selection.TestGate, "unseal", unseal)
    monkeypatch.setattr(tuned, "_test_split", split)
    monkeypatch.setattr(data, "load_dataset", load_dataset)
    rows = s7.s7_trained_depth_scaling(CheckContext(quick=True, out_dir=tmp_path))
    assert (tmp_path / "S7_accuracy_vs_depth.png").is_file()
    kinds = [kind for kind, _ in events]
    assert "unseal" in kinds and "test" in kinds
    first_test = kinds.index("test")
    assert kinds.index("unseal") < first_test, events[:first_test + 1]
    chosen = events[kinds.index("unseal")][1]
    assert set(chosen) == {(r, d) for r in ("none", "inv-sqrt", "inv") for d in TINY.depths}
    assert all(name == "mnist1d/test" for kind, name in events if kind == "test")
    assert {r.details["plan"] for r in rows if r.verdict != "skipped"} == {"exploratory"}
    assert {r.details["dataset"] for r in rows if r.verdict != "skipped"} == {"mnist1d"}


def test_S7_validate_full_runs_every_part_and_each_rule_gets_the_same_rates(tiny, monkeypatch):
    monkeypatch.setattr(s7, "dataset", lambda: ("mnist1d", None))
    ctx = CheckContext(quick=False)
    rows, table, tau, n_a = s7.design_rows(ctx, "mnist1d", design.DESIGN_RULES, sweep=True,
                                           lam=True, parts="abcdef")
    assert {rule for rule, _ in table} == set(design.DESIGN_RULES)
    for cell in table.values():  # every rule starts from the same rates; extensions add
        assert set(TINY.lrs) <= set(cell["rates"]) and cell["lr"] in cell["rates"]
        assert len(cell["test"]) == TINY.seeds
    claims = [r.claim for r in rows]
    for part in "abcd":
        assert any(c.startswith(f"S7({part})") for c in claims), part
    assert any(c.startswith("S7(f)") for c in claims)
    assert 0.1 < tau < 1 and 100 < n_a < 160


def test_S7_validate_declares_the_tuning_runs_and_registered_only_on_the_plan(monkeypatch):
    monkeypatch.setattr(s7, "dataset", lambda: ("fashion-mnist", None))
    quick = s7.s7_specs(CheckContext(quick=True))
    full = s7.s7_specs(CheckContext(quick=False))
    grid = design.DESIGN_BUDGETS["mlp", "quick"]
    assert len(quick) == 3 * len(grid.depths) * len(grid.lrs) * grid.seeds
    assert {s.dataset for s in full} == {"fashion-mnist/val"}  # validation only, never test
    tuning = 8 * len(grid.depths) * len(grid.lrs) * grid.seeds
    sweep = 2 * len(grid.sweep_depths) * len(grid.sweep_lrs) * grid.seeds
    shared = len(set(grid.sweep_depths) & set(grid.depths)) * len(grid.lrs) * grid.seeds
    assert len(full) == tuning + sweep - shared  # depth-muP's sweep at 16 is its tuning run
    assert grid.depths[-2] < 125 <= grid.depths[-1] < 1.9 * 125  # brackets n_a within 1.9


def test_S7_dataset_falls_back_to_mnist1d_with_the_install_hint(monkeypatch, tmp_path):
    from numerics.models import images

    monkeypatch.setattr(images, "DEBIAN_FASHION", tmp_path / "absent")
    monkeypatch.setenv("RESDEPTH_DATA", str(tmp_path / "absent"))
    data, missing = s7.dataset()
    assert data == "mnist1d" and "apt" in missing


def test_S7_validate_rows_are_registered_only_for_the_plans_grid_on_fashion_mnist():
    from resdepth.engine.policy import budget

    full, quick = budget("S7", "full"), budget("S7", "quick")
    assert s7.is_registered("fashion-mnist", design.DESIGN_RULES, full)
    assert not s7.is_registered("mnist1d", design.DESIGN_RULES, full)  # the fallback
    assert not s7.is_registered("fashion-mnist", quick.rules, quick)  # a subset of the rules
    assert not s7.is_registered("fashion-mnist", design.DESIGN_RULES[:-1], full)
    assert s7.GRID == design.DESIGN_BUDGETS["mlp", "quick"]  # the registered grid, unchanged
