"""``resdepth validate`` end to end with checks defined here and tiny training runs.

Each test builds its own registry (the real checks are not involved), trains networks of depth
2 and width 8 for one epoch on 64 digits, and inspects what lands in the output folder.
"""

import json
import sqlite3

import pytest
import torch

import resdepth.checks
from numerics.models.config import ModelConfig, TrainConfig
from resdepth.cli import main
from resdepth.engine.errors import ResdepthError
from resdepth.engine.registry import LABELS, CheckResult, Registered, RunSpec
from resdepth.engine.rows import Criterion, Power, exact_power
from resdepth.engine.sweep import train_run
from resdepth.validate import Settings, validate

TINY = TrainConfig(epochs=1, batch_size=64)


def tiny_spec(seed: int = 0, lam: float = 1.0) -> RunSpec:
    return RunSpec(ModelConfig(depth=2, width=8, lam=lam), "digits", TINY, seed=seed, n_train=64)


# float32 activations grow like lam^depth: 1e30 ** 2 overflows, so the loss is not finite
DIVERGING = RunSpec(ModelConfig(depth=2, width=8, lam=1e30), "digits", TINY, seed=0, n_train=64)


def registry(*entries: Registered) -> dict[str, list[Registered]]:
    table = {label: [] for label in LABELS}
    for entry in entries:
        table[entry.label].append(entry)
    return table


def output_check(specs):
    """An R5 check that reports the summed test-set output of its trained models."""

    def check(ctx):
        total = 0.0
        for spec in specs:
            model, result = ctx.trained(spec)
            assert not model.training and result.steps >= 1
            with torch.no_grad():
                total += float(model(torch.ones(3, 64)).double().sum())
        path = ctx.plot_path("r5_tiny.png")
        if path is not None:
            path.write_bytes(b"not really a png")
        return [CheckResult("R5", "tiny trained output is finite", "exact", None, total, total,
                            Criterion("summed output", "|x|<", 1e300), exact_power(0.0),
                            reason="no prediction: the output is only required to be finite",
                            plot=None if path is None else str(path))]

    return Registered("R5", check, lambda ctx: list(specs))


class Counting:
    """A train function that counts its calls and can raise on the n-th one."""

    def __init__(self, raise_on: int | None = None, exc: type = KeyboardInterrupt):
        self.calls = 0
        self.raise_on = raise_on
        self.exc = exc

    def __call__(self, spec, device):
        self.calls += 1
        if self.calls == self.raise_on:
            raise self.exc("simulated")
        return train_run(spec, device)


# without S2, S3 and S4 the report draws no signal-growth plot, which keeps these tests short
NO_SIGNAL = tuple(label for label in LABELS if label not in ("S2", "S3", "S4"))


def settings(tmp_path, **kw) -> Settings:
    kw.setdefault("only", NO_SIGNAL)
    return Settings(out_dir=tmp_path / "out", quick=True, device="cpu", progress=False, **kw)


def test_tiny_validation_writes_every_output(tmp_path):
    specs = [tiny_spec(0), tiny_spec(1), tiny_spec(0)]
    outcome = validate(settings(tmp_path, only=LABELS), registry(output_check(specs)))
    out = tmp_path / "out"
    document = json.loads((out / "results.json").read_text())
    rows = document["rows"]
    assert [r["label"] for r in rows] == list(LABELS)
    assert list(rows[0]) == ["label", "claim", "kind", "prediction", "measurement", "statistic",
                             "criterion", "power", "verdict", "reason", "details", "plot"]
    r5 = rows[LABELS.index("R5")]
    assert r5["verdict"] == "pass" and r5["plot"] == "r5_tiny.png"
    assert r5["criterion"] == {"statistic": "summed output", "op": "|x|<", "threshold": 1e300}
    assert all(r["verdict"] == "skipped" and "no check registered" in r["reason"]
               for r in rows if r["label"] != "R5")
    assert document["meta"]["mode"] == "quick" and document["meta"]["counts"]["pass"] == 1
    report = (out / "report.md").read_text()
    assert "[plot](r5_tiny.png)" in report and "verdicts.png" in report
    assert report.index("| R1 |") < report.index("| R5 |") < report.index("| S1 |")
    assert (out / "verdicts.png").read_bytes()[:4] == b"\x89PNG"
    assert "(signal_growth.png)" in report and (out / "signal_growth.png").exists()
    with sqlite3.connect(out / "results.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM runs").fetchone() == (2,)  # deduplicated
    assert outcome.trained == 2 and outcome.exit_code == 0


def test_existing_store_needs_resume_or_fresh_and_resume_skips_finished(tmp_path):
    table = registry(output_check([tiny_spec(0), tiny_spec(1)]))
    first = Counting()
    validate(settings(tmp_path), table, train=first)
    assert first.calls == 2
    with pytest.raises(ResdepthError, match="--resume"):
        validate(settings(tmp_path), table, train=Counting())
    again = Counting()
    outcome = validate(settings(tmp_path, resume=True), table, train=again)
    assert again.calls == 0 and outcome.reused == 2
    fresh = Counting()
    validate(settings(tmp_path, fresh=True), table, train=fresh)
    assert fresh.calls == 2


def test_interrupted_sweep_keeps_finished_runs_and_resumes(tmp_path, capsys):
    table = registry(output_check([tiny_spec(0), tiny_spec(1), tiny_spec(2)]))
    with pytest.raises(KeyboardInterrupt):
        validate(settings(tmp_path), table, train=Counting(raise_on=2))
    assert "--resume" in capsys.readouterr().err
    with sqlite3.connect(tmp_path / "out" / "results.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM runs").fetchone() == (1,)
    rest = Counting()
    outcome = validate(settings(tmp_path, resume=True), table, train=rest)
    assert rest.calls == 2 and outcome.exit_code == 0


def test_same_settings_give_identical_results_json(tmp_path):
    table = registry(output_check([tiny_spec(3)]))
    validate(Settings(out_dir=tmp_path / "a", quick=True, device="cpu", progress=False), table)
    validate(Settings(out_dir=tmp_path / "b", quick=True, device="cpu", progress=False), table)
    plot = (tmp_path / "a" / "signal_growth.png").read_bytes()  # seeded Monte Carlo
    assert plot == (tmp_path / "b" / "signal_growth.png").read_bytes()
    first = json.loads((tmp_path / "a" / "results.json").read_text())
    second = json.loads((tmp_path / "b" / "results.json").read_text())
    assert json.dumps(first["rows"]) == json.dumps(second["rows"])
    assert first["meta"]["started"] and first["meta"]["check_wall_time_s"]
    measured = first["rows"][LABELS.index("R5")]["measurement"]
    assert isinstance(measured, float) and measured != 0.0


def test_check_that_raises_becomes_a_fail_row_and_the_rest_still_runs(tmp_path):
    def broken(ctx):
        return 1 / 0

    def bad_needs(ctx):
        raise RuntimeError("no such dataset")

    outcome = validate(settings(tmp_path), registry(
        Registered("R1", broken), Registered("R2", lambda ctx: [], bad_needs),
        output_check([tiny_spec(0)]),
    ))
    rows = {r["label"]: r for r in outcome.rows}
    assert rows["R1"]["verdict"] == "fail"
    assert "ZeroDivisionError" in rows["R1"]["reason"] and "broken" in rows["R1"]["claim"]
    assert rows["R2"]["verdict"] == "fail" and "no such dataset" in rows["R2"]["reason"]
    assert rows["R5"]["verdict"] == "pass"
    assert outcome.exit_code == 1


def test_failed_training_run_is_reported_on_its_check(tmp_path):
    outcome = validate(settings(tmp_path), registry(output_check([tiny_spec(0)])),
                       train=Counting(raise_on=1, exc=ValueError))
    (r5,) = [r for r in outcome.rows if r["label"] == "R5"]
    assert r5["verdict"] == "fail" and "training run" in r5["reason"] and "simulated" in r5["reason"]


def test_runs_a_check_did_not_declare_are_trained_and_named(tmp_path):
    undeclared = output_check([tiny_spec(5)])
    outcome = validate(settings(tmp_path), registry(Registered("R5", undeclared.check)))
    (name,) = outcome.undeclared
    assert name.endswith("output_check.<locals>.check") and outcome.undeclared[name] == 1
    assert outcome.trained == 0 and name in (tmp_path / "out" / "report.md").read_text()


def test_diverged_runs_are_stored_and_reported_diverged(tmp_path):
    def raising(ctx):
        ctx.trained(DIVERGING)
        raise FloatingPointError("loss is nan")

    outcome = validate(settings(tmp_path), registry(
        output_check([DIVERGING]),
        Registered("S1", raising, lambda ctx: [DIVERGING]),
    ))
    rows: dict[str, list[dict]] = {}
    for row in outcome.rows:
        rows.setdefault(row["label"], []).append(row)
    # the check's own row is not relabelled: a non-finite output fails its criterion ...
    (own, extra) = rows["R5"]
    assert own["verdict"] == "fail" and own["measurement"] in ("NaN", "Infinity", "-Infinity")
    # ... and the diverged run behind it is reported beside it
    assert extra["verdict"] == "diverged" and "training diverged" in extra["reason"]
    assert [r["verdict"] for r in rows["S1"]] == ["fail", "diverged"]
    assert "FloatingPointError" in rows["S1"][0]["reason"]
    assert outcome.diverged == 1 and outcome.exit_code == 1
    with sqlite3.connect(tmp_path / "out" / "results.sqlite") as db:
        assert db.execute("SELECT status FROM runs").fetchall() == [("diverged",)]


def test_a_check_that_predicts_divergence_judges_its_runs_itself(tmp_path):
    def predicts_divergence(ctx):
        _, result = ctx.trained(DIVERGING)
        return [CheckResult("S7", "lam = 1e30 diverges", "empirical", 1, int(result.diverged),
                            int(result.diverged), Criterion("diverged", "==", 1),
                            Power("a run that trains", 1, "==", 1))]

    outcome = validate(settings(tmp_path), registry(
        Registered("S7", predicts_divergence, lambda ctx: [DIVERGING], divergence_ok=True)))
    (row,) = [r for r in outcome.rows if r["label"] == "S7"]
    assert row["verdict"] == "pass" and outcome.exit_code == 0


def _row(measured, power_value=0.0):
    return CheckResult("R1", "1 = 1", "exact", 1, measured, abs(measured - 1),
                       Criterion("absolute error", "<=", 0.0),
                       Power("any difference", power_value, "<=", 1e-6))


def passing(ctx):
    return [_row(1)]


def failing(ctx):
    return [_row(2)]


def inconclusive(ctx):
    return [_row(1, power_value=0.5)]


@pytest.mark.parametrize(("check", "code", "strict_code"),
                         [(passing, 0, 0), (failing, 1, 1), (inconclusive, 0, 1)])
def test_cli_exit_code_is_1_exactly_when_a_row_fails(tmp_path, monkeypatch, capsys, check, code,
                                                      strict_code):
    monkeypatch.setattr(resdepth.checks, "load_checks", lambda labels: registry(Registered("R1", check)))
    argv = ["validate", "--quick", "--device", "cpu", "--only", "R", "--out", str(tmp_path)]
    assert main(argv) == code
    summary = capsys.readouterr().out
    assert "R1" in summary and "R5" in summary and "S1" not in summary
    assert "pass" in summary and "inconclusive" in summary and "skipped" in summary
    assert main(argv) == 2  # the folder holds a validation now: --resume or --fresh
    assert main([*argv, "--resume"]) == code
    assert main([*argv, "--resume", "--strict"]) == strict_code


def test_resume_on_a_folder_with_nothing_to_resume_says_so(tmp_path, capsys):
    argv = ["validate", "--quick", "--only", "R1", "--out", str(tmp_path / "empty"), "--resume"]
    assert main(argv) == 2
    assert "no validation to resume" in capsys.readouterr().err


def test_cli_reads_a_json_config_and_rejects_bad_ones(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(resdepth.checks, "load_checks", lambda labels: registry(Registered("R1", passing)))
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"seed": 3, "quick": True, "device": "cpu", "only": ["R1", "D"]}))
    assert main(["validate", "--config", str(good), "--out", str(tmp_path / "a")]) == 0
    rows = json.loads((tmp_path / "a" / "results.json").read_text())["rows"]
    assert [r["label"] for r in rows] == ["R1", "D1", "D2", "D3", "D4", "D5"]
    assert "| base seed | 3 |" in (tmp_path / "a" / "report.md").read_text()
    for text in ('{"seeds": [1]}', '{"workers": 0}', "[1]", "__import__('os')", '{"only": "X9"}'):
        bad = tmp_path / "bad.json"
        bad.write_text(text)
        assert main(["validate", "--config", str(bad), "--out", str(tmp_path / "b")]) == 2
        assert "error" in capsys.readouterr().err
