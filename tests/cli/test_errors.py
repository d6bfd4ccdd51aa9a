"""No traceback, no lost work (issue 16, item 4): each bad path, size or file the issue lists
ends in exit code 2 and one line on stderr naming what failed, before any long work; a bug ends
in one line and exit code 70, and shows its traceback under RESDEPTH_DEBUG=1.

Cases run in-process through :func:`resdepth.cli.main` (fast); where a command would train, a
call of ``backward`` fails the case (the refusal must come before any training). Cases that
could allocate gigabytes if a guard were missing run as a subprocess under a time limit and an
address-space limit, so a missing guard fails the test instead of the machine.
"""

import errno
import os
import resource
import subprocess
import sys
from dataclasses import dataclass

import pytest

from resdepth import cli
from resdepth.cli import main

MEMORY_LIMIT = 6 * 2**30  # bytes of address space a subprocess case may reserve
TIME_LIMIT = 60  # seconds; every case refuses at once (after importing torch) when guarded


@dataclass(frozen=True)
class Case:
    """``argv`` in a folder holding ``afile`` (a file), ``somedir`` and ``empty`` (folders),
    ``binary.json`` (not UTF-8), ``corrupt.pt`` (random bytes), ``pickle.pt`` (a pickle that
    calls ``print`` when loaded unsafely); the run must exit ``code`` with one stderr line
    containing ``says`` and none of ``never``; ``trains``: the command would train, and must
    refuse first; ``allocates``: a missing guard could allocate gigabytes (run as a subprocess)."""

    argv: tuple[str, ...]
    says: str = ""
    code: int = 2
    never: tuple[str, ...] = ()
    trains: bool = False
    allocates: bool = False


CASES = {
    "tables --out under a file": Case(("tables", "paths", "--out", "afile/x.tex"), "afile"),
    "tables --out a folder": Case(("tables", "signal", "--out", "somedir"), "somedir"),
    "validate --out a file": Case(("validate", "--quick", "--only", "R1", "--out", "afile"),
                                  "afile"),
    "validate --config a folder": Case(("validate", "--config", "somedir", "--out", "v"),
                                       "somedir"),
    "validate --config binary": Case(("validate", "--config", "binary.json", "--out", "v"),
                                     "binary.json"),
    "validate --config missing": Case(("validate", "--config", "nope.json", "--out", "v"),
                                      "nope.json"),
    "validate --resume empty": Case(("validate", "--resume", "--quick", "--only", "R1",
                                     "--out", "empty"), "resume"),
    "validate --figures a file": Case(("validate", "--quick", "--only", "R1", "--out", "v",
                                       "--figures", "afile"), "--figures"),
    "paths --plot under a file": Case(("paths", "--arch", "tower", "--blocks", "3", "--plot",
                                       "afile/x.png"), "afile"),
    "paths --dot under a file": Case(("paths", "--arch", "tower", "--blocks", "3", "--dot",
                                      "afile/x.dot"), "afile"),
    "paths --graphml under a file": Case(("paths", "--arch", "tower", "--blocks", "3",
                                          "--graphml", "afile/x.graphml"), "afile"),
    "spectrum --plot under a file": Case(("spectrum", "--depth", "3", "--width", "4", "--plot",
                                          "afile/x.png"), "afile"),
    "spectrum --width 100000": Case(("spectrum", "--width", "100000"), "width",
                                    allocates=True),
    "spectrum corrupt checkpoint": Case(("spectrum", "--checkpoint", "corrupt.pt"),
                                        "corrupt.pt", never=("weights_only",)),
    "spectrum malicious checkpoint": Case(("spectrum", "--checkpoint", "pickle.pt"),
                                          "pickle.pt", never=("weights_only", "PWNED")),
    "expand --out a file": Case(("expand", "--out", "afile"), "afile", trains=True),
    "expand --width 1 (post-LN)": Case(("expand", "--width", "1", "--out", "e"), "width",
                                       trains=True),
    "train --depth 100000": Case(("train", "--depth", "100000", "--out", "t"), "depth",
                                 allocates=True),
    "train --width 1 --norm post": Case(("train", "--width", "1", "--norm", "post", "--out",
                                         "t"), "width", trains=True),
    "train --width 1 --norm pre": Case(("train", "--width", "1", "--norm", "pre", "--out", "t"),
                                       "width", trains=True),
    "train --out a file": Case(("train", "--out", "afile"), "afile", trains=True),
}
MISSING_FOLDER = {  # a missing folder is created before the work: the output is never lost
    "paths --plot": ("paths", "--arch", "tower", "--blocks", "3", "--plot", "new/a/x.png"),
    "paths --dot": ("paths", "--arch", "tower", "--blocks", "3", "--dot", "new/a/x.dot"),
    "paths --graphml": ("paths", "--arch", "tower", "--blocks", "3", "--graphml",
                        "new/a/x.graphml"),
    "spectrum --plot": ("spectrum", "--depth", "3", "--width", "4", "--plot", "new/a/x.png"),
    "tables --out": ("tables", "paths", "--out", "new/a/x.tex"),
}


class Unsafe:
    """Pickles to a call of ``print``: a safe loader refuses it, an unsafe one prints PWNED."""

    def __reduce__(self):
        return print, ("PWNED",)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A folder with the files the cases name, as the current directory."""
    import torch

    (tmp_path / "afile").write_text("a file, not a folder\n")
    (tmp_path / "somedir").mkdir()
    (tmp_path / "empty").mkdir()
    (tmp_path / "binary.json").write_bytes(b"\x80\x81\xfe\xff" * 64)
    (tmp_path / "corrupt.pt").write_bytes(os.urandom(4096))
    torch.save({"state_dict": Unsafe()}, tmp_path / "pickle.pt")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _no_training(*args, **kwargs):
    raise AssertionError("training started before the command checked its input")


def run_case(case: Case, capsys, monkeypatch) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of the case."""
    if case.trains:
        import torch

        monkeypatch.setattr(torch.Tensor, "backward", _no_training)
        monkeypatch.setattr(torch.autograd, "backward", _no_training)
    if case.allocates:
        try:
            proc = subprocess.run([sys.executable, "-m", "resdepth", *case.argv],
                                  capture_output=True, text=True, timeout=TIME_LIMIT,
                                  preexec_fn=_limit_memory, check=False)
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"still running after {TIME_LIMIT} s (no guard before the work): "
                        f"{exc.stderr!r:.300}")
        return proc.returncode, proc.stdout, proc.stderr
    try:
        code = main(list(case.argv))
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("name", list(CASES))
def test_cli_error_case_is_one_line(name, workdir, capsys, monkeypatch):
    monkeypatch.delenv("RESDEPTH_DEBUG", raising=False)
    case = CASES[name]
    code, out, err = run_case(case, capsys, monkeypatch)
    lines = [line for line in err.splitlines() if line.strip() and "%|" not in line]
    assert "Traceback" not in out + err, err[-2000:]
    assert code == case.code, f"exit {code}; stderr: {err[-600:]}"
    assert len(lines) == 1 and lines[0].startswith("resdepth "), err[-600:]
    assert case.says in lines[0], lines[0]
    assert not [word for word in case.never if word in out + err], out + err


@pytest.mark.parametrize("name", list(MISSING_FOLDER))
def test_output_into_a_missing_folder_is_written(name, workdir, capsys):
    argv = MISSING_FOLDER[name]
    code = main(list(argv))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    assert code == 0, captured.err
    assert (workdir / argv[-1]).stat().st_size > 0


def test_validate_out_a_file_fails_before_loading_checks(workdir, capsys, monkeypatch):
    """The output folder is refused before any check module or training run is touched."""
    import resdepth.checks as checks

    monkeypatch.setattr(checks, "load_checks", lambda *a: pytest.fail("checks were loaded"))
    assert main(["validate", "--quick", "--only", "R1", "--out", "afile"]) == 2
    assert "afile" in capsys.readouterr().err


@pytest.mark.parametrize("exc, says", [
    (MemoryError(), "out of memory"),
    (RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: not enough "
                  "memory: you tried to allocate 80000000000 bytes."), "out of memory"),
    (RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB"), "out of memory"),
    (OSError(errno.ENOSPC, "No space left on device", "out/results.json"),
     "out/results.json: No space left on device"),
    (PermissionError(errno.EACCES, "Permission denied", "paper/table.tex"),
     "paper/table.tex: Permission denied"),
    (ValueError("--depth must be at most 1024\nsecond line"), "--depth must be at most 1024"),
])
def test_environment_failures_are_one_line_exit_2(exc, says, monkeypatch, capsys):
    monkeypatch.delenv("RESDEPTH_DEBUG", raising=False)
    monkeypatch.setattr("resdepth.tables.paths.build", _raiser(exc))
    assert main(["tables", "paths"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err and "Traceback" not in err


def test_a_bug_is_one_line_with_how_to_see_the_traceback(monkeypatch, capsys):
    monkeypatch.delenv("RESDEPTH_DEBUG", raising=False)
    monkeypatch.setattr("resdepth.tables.paths.build", _raiser(KeyError("depth")))
    assert main(["tables", "paths"]) == cli.INTERNAL_ERROR
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "KeyError" in err and "RESDEPTH_DEBUG=1" in err


def test_debug_shows_the_traceback(monkeypatch):
    monkeypatch.setenv("RESDEPTH_DEBUG", "1")
    monkeypatch.setattr("resdepth.tables.paths.build", _raiser(KeyError("depth")))
    with pytest.raises(KeyError):
        main(["tables", "paths"])


def test_console_script_error_has_no_traceback(workdir):
    """The installed entry point (not only main()) ends a bad --out in one line, writing nothing."""
    proc = subprocess.run([sys.executable, "-m", "resdepth", "tables", "trees", "--out",
                           "afile/t.md"], capture_output=True, text=True, timeout=TIME_LIMIT,
                          check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and proc.stdout == ""
    assert proc.stderr == "resdepth tables: error: --out afile/t.md: afile is a file, not a folder\n"


def _raiser(exc):
    def build(args):
        raise exc

    return build
