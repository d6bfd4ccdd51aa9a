"""``validate --resume`` keeps every finished check (issue 20 item 5).

Each check's rows are committed with a fingerprint (label, mode, seed, device, code version,
torch); a resumed validation reuses the rows of every finished check whose fingerprint is
unchanged, reruns what did not finish, and reruns (and says so) a check whose setting or code
changed. The checks here train nothing, so the tests are fast.
"""

import json

import pytest

from resdepth.engine import version
from resdepth.engine.registry import LABELS, CheckResult, Registered
from resdepth.engine.rows import Criterion, exact_power
from resdepth.validate import Settings, validate

ONLY = ("R1", "R5")


class Check:
    """A check that counts its calls, returns one exact row, and can raise Ctrl-C once."""

    def __init__(self, label: str, interrupt_on: int | None = None):
        self.label, self.calls, self.interrupt_on = label, 0, interrupt_on
        self.__qualname__ = f"check_{label}"

    def __call__(self, ctx):
        self.calls += 1
        if self.calls == self.interrupt_on:
            raise KeyboardInterrupt
        value = 0.125 * (ctx.seed + 1)
        return [CheckResult(self.label, f"{self.label}: seed-dependent constant", "exact", value,
                            value, 0.0, Criterion("error", "<=", 1e-12), exact_power(1e-12))]


def table(*checks: Check) -> dict:
    found = {label: [] for label in LABELS}
    for check in checks:
        found[check.label].append(Registered(check.label, check))
    return found


def settings(tmp_path, **kw) -> Settings:
    return Settings(out_dir=tmp_path / "out", quick=True, device="cpu", progress=False,
                    only=ONLY, **kw)


def rows(tmp_path) -> list[dict]:
    return json.loads((tmp_path / "out" / "results.json").read_text())["rows"]


def test_interrupted_checks_resume_from_the_first_unfinished_one(tmp_path, capsys):
    r1, r5 = Check("R1"), Check("R5", interrupt_on=1)
    with pytest.raises(KeyboardInterrupt):
        validate(settings(tmp_path), table(r1, r5))
    assert "1 finished checks are saved" in capsys.readouterr().err
    outcome = validate(settings(tmp_path, resume=True), table(r1, r5))
    assert (r1.calls, r5.calls) == (1, 2)  # R1 reused, R5 ran again
    assert outcome.reused_checks == [f"{Check.__module__}.check_R1"]
    resumed = rows(tmp_path)
    clean = Settings(out_dir=tmp_path / "clean", quick=True, device="cpu", progress=False,
                     only=ONLY)
    validate(clean, table(Check("R1"), Check("R5")))
    assert resumed == json.loads((tmp_path / "clean" / "results.json").read_text())["rows"]
    meta = json.loads((tmp_path / "out" / "results.json").read_text())["meta"]
    assert meta["checks_reused"] == outcome.reused_checks


def test_a_changed_setting_reruns_the_check_and_says_why(tmp_path, capsys):
    r1 = Check("R1")
    validate(settings(tmp_path), table(r1))
    capsys.readouterr()
    validate(settings(tmp_path, resume=True, seed=3), table(r1))
    assert r1.calls == 2
    assert "rerunning" in capsys.readouterr().err
    assert rows(tmp_path)[0]["prediction"] == 0.5  # the new seed's rows, not the stored ones


def test_a_changed_code_version_reruns_the_check(tmp_path, capsys, monkeypatch):
    r1 = Check("R1")
    validate(settings(tmp_path), table(r1))
    monkeypatch.setattr(version, "code_version", lambda: "another-version")
    validate(settings(tmp_path, resume=True), table(r1))
    assert r1.calls == 2 and "code changed" in capsys.readouterr().err


def test_without_resume_every_check_runs(tmp_path):
    r1 = Check("R1")
    validate(settings(tmp_path), table(r1))
    validate(settings(tmp_path, fresh=True), table(r1))
    assert r1.calls == 2


def test_code_version_changes_with_a_source_byte(tmp_path, monkeypatch):
    package = tmp_path / "theorems"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("x = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(version, "PACKAGES", ("theorems",))
    import importlib
    import sys

    monkeypatch.delitem(sys.modules, "theorems", raising=False)
    importlib.invalidate_caches()
    version.code_version.cache_clear()
    before = version.code_version()
    (package / "a.py").write_text("x = 2\n")
    version.code_version.cache_clear()
    assert version.code_version() != before
    version.code_version.cache_clear()
