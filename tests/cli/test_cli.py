"""The command line frame: every command is listed, loads its own parser, and teaches with --help."""

import json
from pathlib import Path

import pytest

from resdepth.cli import COMMANDS, build_parser, main


def test_top_level_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert all(name in out for name in COMMANDS)


@pytest.mark.parametrize("command", list(COMMANDS))
def test_each_command_has_a_full_parser_and_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: resdepth {command}" in capsys.readouterr().out


def test_only_the_named_command_is_given_its_full_parser():
    parser = build_parser("paths")
    choices = parser._subparsers._group_actions[0].choices
    assert "--arch" in choices["paths"].format_help()
    assert "--arch" not in choices["train"].format_help()


def test_unknown_command_is_a_one_line_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["bogus"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


# --- a real `validate --quick --only R1,R4`: results.json against its schema, verdicts
# re-derived from each row's criterion and power, --figures copying the report's plots.

SCHEMA_PATH = Path(__file__).parents[2] / "docs" / "results.schema.json"
NONFINITE = ("NaN", "Infinity", "-Infinity")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """One cheap validation (R1 and R4 need no training): its folder and its figures folder."""
    root = tmp_path_factory.mktemp("validate")
    out, figures = root / "out", root / "figures"
    code = main(["validate", "--quick", "--only", "R1,R4", "--out", str(out), "--figures",
                 str(figures)])
    assert code in (0, 1)
    return out, figures


def _number(value):
    """A results.json number: JSON numbers as they are, exact-integer and non-finite strings."""
    if isinstance(value, str):
        return float(value) if value in NONFINITE else int(value)
    return value


def verdict_mismatches(rows: list[dict]) -> list[str]:
    """Rows whose verdict does not follow from their criterion and power (or that carry an
    explicit verdict without a reason)."""
    from resdepth.engine.rows import EXPLICIT, Criterion, Power, decide

    wrong = []
    for row in rows:
        if row["criterion"] is None or row["power"] is None:
            if row["verdict"] not in EXPLICIT or not row["reason"]:
                wrong.append(f"{row['label']} {row['claim']}: {row['verdict']} with no rule")
            continue
        criterion = Criterion(**{**row["criterion"],
                                 "threshold": _number(row["criterion"]["threshold"])})
        power = Power(**{**row["power"], "value": _number(row["power"]["value"]),
                         "threshold": _number(row["power"]["threshold"])})
        derived = decide(criterion, power, _number(row["statistic"]))
        if derived != row["verdict"] and row["verdict"] not in ("diverged", "skipped"):
            wrong.append(f"{row['label']} {row['claim']}: {row['verdict']}, rules say {derived}")
    return wrong


def test_results_json_validates_against_the_published_schema(quick_run):
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(schema)
    validator.check_schema(schema)
    document = json.loads((quick_run[0] / "results.json").read_text(encoding="utf-8"))
    validator(schema).validate(document)
    assert document["meta"]["mode"] == "quick" and document["meta"]["labels"] == ["R1", "R4"]
    assert {row["label"] for row in document["rows"]} == {"R1", "R4"}


def test_every_verdict_follows_from_its_criterion_and_power(quick_run):
    rows = json.loads((quick_run[0] / "results.json").read_text(encoding="utf-8"))["rows"]
    ruled = [row for row in rows if row["criterion"] is not None]
    assert len(ruled) >= 10
    assert verdict_mismatches(rows) == []
    passing = next(row for row in ruled if row["verdict"] == "pass")
    flipped = {**passing, "criterion": {**passing["criterion"], "op": "<", "threshold": -1e300}}
    assert verdict_mismatches([flipped]) != []  # a verdict the rules do not give is caught


def test_figures_copies_the_report_plots(quick_run):
    out, figures = quick_run
    rows = json.loads((out / "results.json").read_text(encoding="utf-8"))["rows"]
    plots = sorted({row["plot"] for row in rows if row["plot"]})
    assert plots and sorted(p.name for p in figures.iterdir()) == plots
    for name in plots:
        assert (figures / name).read_bytes() == (out / name).read_bytes()
    assert not (figures / "verdicts.png").exists()  # a partial run's overview is not the suite's


def test_figures_copies_the_overview_from_a_run_of_every_label(tmp_path):
    from types import SimpleNamespace

    from resdepth.commands.validate import copy_figures
    from resdepth.engine.registry import LABELS
    from resdepth.settings import Settings

    out = tmp_path / "out"
    out.mkdir()
    for name in ("verdicts.png", "R2_trained_spectrum.png", "stale.png"):
        (out / name).write_bytes(name.encode())
    outcome = SimpleNamespace(settings=Settings(out_dir=out, only=LABELS),
                              rows=[{"plot": "R2_trained_spectrum.png"}, {"plot": None}])
    line = copy_figures(outcome, tmp_path / "docs")
    assert sorted(p.name for p in (tmp_path / "docs").iterdir()) == [
        "R2_trained_spectrum.png", "verdicts.png"]
    assert line.startswith("figures: copied 2 plots") and "not copied" not in line


def test_readme_and_validate_help_give_the_same_figures_command(capsys):
    """README's `--figures docs/figures` is what `validate --help` says, and neither promises a
    default the parser does not have."""
    with pytest.raises(SystemExit):
        main(["validate", "--help"])
    text = capsys.readouterr().out
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    for command in ("resdepth validate --figures docs/figures",
                    "resdepth validate --only R2 --figures docs/figures"):
        assert command in " ".join(text.split()) and command in " ".join(readme.split())
    assert "has no default" in text and "has no default" in readme


def test_sigterm_takes_the_ctrl_c_path_in_every_command(monkeypatch, capsys):
    """main() turns SIGTERM into KeyboardInterrupt, so every command's Ctrl-C handling (validate
    and experiment save their runs and print --resume; train saves its model) runs on SIGTERM
    too; exit code 130, one line, and the previous handler is restored afterwards."""
    import os
    import signal
    import time

    import resdepth.commands.tables as tables

    def terminated(build, args):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises before this ends
        return 0

    before = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr(tables, "_run", terminated)
    assert main(["tables", "paths"]) == 130
    assert capsys.readouterr().err.strip() == "resdepth tables: interrupted"
    assert signal.getsignal(signal.SIGTERM) is before
