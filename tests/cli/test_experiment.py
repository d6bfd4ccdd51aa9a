"""``resdepth experiment depth-scaling`` end to end on a tiny budget, and S7 inside validate."""

import json

import jsonschema
import pytest

from resdepth.cli import main
from resdepth.experiment import grid
from resdepth.experiment.grid import RULES, TUNED_A, Budget, plan

TINY = Budget(depths=(2, 4), seeds=2, width=4, n_train=64, epochs=2, batch_size=32, lr=1e-2,
              sweep_depths=(2, 4), sweep_lrs=(1e-2,), probe_n=8, spectrum_n=4)
SCHEMA = json.loads(open("docs/results.schema.json", encoding="utf-8").read())


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setitem(grid.BUDGETS, "quick", TINY)
    return TINY


def test_S7_plan_shares_the_tuned_a_1_run_with_inv_sqrt():
    p = plan("mnist1d", TINY)
    per_cell = len(TINY.depths) * TINY.seeds
    assert len(p.specs) == per_cell * (len(RULES) - 1 + len(TUNED_A) - 1) + 2 * 2 * 1 * 2
    shared = [e for e in p.entries.values() if {x.rule for x in e} == {"inv-sqrt", "tuned"}]
    assert len(shared) == per_cell
    mup = [s for s in p.specs.values() if s.model.scaling == "mup" and s.train.lr == 2e-2]
    assert len(mup) == per_cell  # depth-muP's base rate: the recipe's x sqrt(4)
    with pytest.raises(ValueError, match="unknown rules"):
        plan("mnist1d", TINY, ("none", "magic"))


def test_S7_digits_trains_the_cnn_on_the_whole_training_split():
    specs = plan("digits", grid.BUDGETS["full"], ("inv-sqrt",), sweep=False).specs.values()
    assert {(s.model.arch, s.n_train, s.dataset) for s in specs} == {("cnn", 1437, "digits")}


def test_S7_experiment_writes_table_plots_rows_and_resumes(tmp_path, tiny, capsys):
    out = tmp_path / "s7"
    argv = ["experiment", "depth-scaling", "--quick", "--rules", "inv-sqrt", "fixup",
            "--out", str(out), "--quiet"]
    assert main(argv) in (0, 1)
    printed = capsys.readouterr().out
    assert "S7 depth-scaling (quick)" in printed
    for name in ("accuracy_vs_depth.png", "gc_vs_lam.png", "lr_sweep.png",
                 "spectrum_shares.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    results = json.loads((out / "results.json").read_text())
    jsonschema.validate(results, SCHEMA)
    assert {r["label"] for r in results["rows"]} == {"S7"}
    assert [r["claim"][:5] for r in results["rows"]] == ["S7(b)", "S7(b)", "S7(e)", "S7(f)"]
    report = (out / "report.md").read_text()
    assert "| fixup |" in report and "n_a = " in report
    runs = json.loads((out / "runs.json").read_text())
    fixup = next(r for r in runs if r["rule"] == "fixup")
    assert fixup["measurements"]["initial"]["signed_shares"][0] == pytest.approx(1.0)
    assert main(argv) == 2 and "--resume" in capsys.readouterr().err
    assert main([*argv, "--resume"]) in (0, 1)
    assert "0 runs trained" in (out / "report.md").read_text()
    assert main([*argv[:-3], "inv-sqrt", "mup", "--out", str(out), "--quiet", "--resume",
                 "--report-only"]) in (0, 1)
    partial = (out / "report.md").read_text()
    assert "0 runs trained" in partial and "**Partial**" in partial and "mup: 4" in partial


@pytest.mark.parametrize("argv, message", [
    (["--seeds", "1"], "at least 2"),
    (["--resume"], "no experiment to resume"),
    (["--report-only"], "add --resume"),
])
def test_S7_experiment_refuses_in_one_line(tmp_path, capsys, argv, message):
    assert main(["experiment", "depth-scaling", *argv, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_S7_experiment_checks_out_before_any_work(tmp_path, capsys):
    target = tmp_path / "afile"
    target.write_text("x")
    assert main(["experiment", "depth-scaling", "--quick", "--out", str(target)]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_S7_in_validate_quick_judges_a_to_c_and_skips_d_to_f(tmp_path, monkeypatch):
    """validate's S7 on the design (a tiny grid, mnist1d as when Fashion-MNIST is absent):
    the declared tuning runs, the extensions and the test scoring through validate's store."""
    from dataclasses import replace

    from resdepth.checks import s7
    from resdepth.experiment import tuned
    from resdepth.settings import Settings
    from resdepth.validate import validate

    monkeypatch.setattr(s7, "GRID", replace(_designed_tiny(), depths=(2, 4), max_extensions=1))
    monkeypatch.setattr(s7, "dataset", lambda: ("mnist1d", "Fashion-MNIST not found"))
    tuned._test_split.cache_clear()
    outcome = validate(Settings(out_dir=tmp_path / "v", quick=True, only=("S7",),
                                progress=False))
    claims = [r["claim"][:5] for r in outcome.rows]
    assert claims[:1] == ["S7(a)"] and claims.count("S7(b)") == 2 and "S7(c)" in claims
    skipped = [r for r in outcome.rows if r["verdict"] == "skipped"]
    assert {r["claim"][:5] for r in skipped} >= {"S7(d)", "S7(e)", "S7(f)"}
    assert not any(r["verdict"] == "diverged" for r in outcome.rows)
    judged = [r for r in outcome.rows if r["verdict"] != "skipped"]
    assert {(r["details"]["plan"], r["details"]["dataset"]) for r in judged} == {
        ("exploratory", "mnist1d")}
    assert (tmp_path / "v" / "S7_accuracy_vs_depth.png").exists()
    assert outcome.trained == 3 * 2 * 2 * 2  # rules x depths x rates x seeds, declared


@pytest.mark.gpu
def test_S7_experiment_trains_on_cuda(tmp_path, tiny):
    from resdepth.experiment.run import ExperimentSettings, run_experiment

    result = run_experiment(ExperimentSettings(out_dir=tmp_path / "gpu", quick=True,
                                               rules=("inv-sqrt", "fixup"), device="cuda",
                                               sweep=False, progress=False))
    assert result.device == "cuda" and result.rows
    assert all(r["measurements"]["trained"] is not None for r in result.records
               if not r["diverged"])


def _designed_tiny():
    from resdepth.experiment.design import DesignBudget

    return DesignBudget("mlp", (2,), 4, 100, 1, (1e-2, 3e-2), 2, max_extensions=1,
                        n_test=200, probe_n=8, spectrum_n=4)


@pytest.mark.skipif(not __import__("pathlib").Path("/usr/share/datasets/fashion-mnist").is_dir(),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_S7_design_reads_the_test_set_only_after_the_choice(tmp_path, monkeypatch, capsys):
    """Every load of a test split comes after TestGate.unseal; a flow that read test
    accuracy before choosing its rates would fail here."""
    from numerics.models import data
    from resdepth.experiment import design, selection, tuned

    tuned._test_split.cache_clear()
    events = []
    split = data._split_variant
    monkeypatch.setattr(data, "_split_variant",
                        lambda name, which, *a: events.append(which) or split(name, which, *a))
    unseal = selection.TestGate.unseal
    monkeypatch.setattr(selection.TestGate, "unseal",
                        lambda self, c: events.append("unseal") or unseal(self, c))
    monkeypatch.setitem(design.DESIGN_BUDGETS, ("mlp", "quick"), _designed_tiny())
    out = tmp_path / "s7"
    argv = ["experiment", "depth-scaling", "--dataset", "fashion-mnist", "--arch", "mlp",
            "--quick", "--no-sweep", "--rules", "inv-sqrt", "pre-ln", "--out", str(out),
            "--quiet"]
    assert main(argv) in (0, 1)
    assert "unseal" in events and "test" in events
    assert "test" not in events[:events.index("unseal")]
    results = json.loads((out / "results.json").read_text())
    jsonschema.validate(results, SCHEMA)
    assert len(results["meta"]["plan_sha256"]) == 64
    assert results["meta"]["design"]["registered"] is False
    assert {r["details"]["plan"] for r in results["rows"]} == {"exploratory"}
    tuning = results["meta"]["design"]["tuning"]
    assert {len(v["rates"]) >= 2 for v in tuning.values()} == {True}
    assert "| pre-ln |" in (out / "report.md").read_text()


def test_S7_design_refuses_without_the_data_in_one_line(tmp_path, monkeypatch, capsys):
    from numerics.models import images

    monkeypatch.setattr(images, "DEBIAN_FASHION", tmp_path / "absent")
    monkeypatch.delenv("RESDEPTH_DATA", raising=False)
    assert main(["experiment", "depth-scaling", "--dataset", "fashion-mnist", "--quick",
                 "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert "dataset-fashion-mnist" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o" / "results.sqlite").exists()
    assert main(["experiment", "depth-scaling", "--arch", "resnet", "--out",
                 str(tmp_path / "p")]) == 2
    assert "--dataset fashion-mnist" in capsys.readouterr().err


@pytest.mark.gpu
def test_S7_design_gpu_grid_smoke(tmp_path, monkeypatch):
    """The GPU grid's command on CUDA, shrunk to a few runs of the conv ResNet."""
    from resdepth.experiment import design

    budget = design.DESIGN_BUDGETS["resnet", "gpu"]
    monkeypatch.setitem(design.DESIGN_BUDGETS, ("resnet", "gpu"), design.DesignBudget(
        "resnet", (1, 2), budget.width, 200, 1, (1e-2, 3e-2), 2, max_extensions=0,
        probe_n=8, spectrum_n=4))
    out = tmp_path / "gpu"
    assert main(["experiment", "depth-scaling", "--dataset", "fashion-mnist", "--arch",
                 "resnet", "--gpu-grid", "--device", "cuda", "--no-sweep", "--rules", "none",
                 "inv-sqrt", "batch", "--out", str(out), "--quiet"]) in (0, 1)
    results = json.loads((out / "results.json").read_text())
    assert results["meta"]["device"] == "cuda"
