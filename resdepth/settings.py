"""The settings of one ``resdepth validate``: command line and ``--config`` file, validated.

A ``--config`` file is JSON only (nothing in it is ever evaluated) with the keys of
:data:`CONFIG_KEYS`; the command line's flags win over it.
"""

import json
from dataclasses import dataclass
from pathlib import Path

from resdepth.engine import labels
from resdepth.engine.errors import ResdepthError, read_text
from resdepth.engine.registry import LABELS

CONFIG_KEYS = {
    "seed": "base seed of every check (CheckContext.seed), an integer >= 0; default 0",
    "quick": "true for the quick budget (under 5 min on 2 CPU cores), false for the full one",
    "device": "auto | cpu | cuda",
    "backend": "local | ray",
    "address": "Ray cluster address (backend ray only)",
    "workers": "parallel training processes / Ray CPUs, an integer >= 1",
    "only": "labels to run: a list such as [\"R1\", \"S\"] or a string \"R1,S\"",
    "strict": "true to exit 1 on inconclusive rows too",
}


@dataclass(frozen=True)
class Settings:
    """Everything that shapes one validation (the command line and ``--config`` fill it)."""

    out_dir: Path = Path("validate-out")
    quick: bool = False
    device: str = "auto"
    backend: str = "local"
    address: str | None = None
    resume: bool = False
    fresh: bool = False
    only: tuple[str, ...] = LABELS
    workers: int = 1
    seed: int = 0
    strict: bool = False
    config: Path | None = None
    progress: bool = True
    figures: Path | None = None

    @property
    def mode(self) -> str:
        return "quick" if self.quick else "full"


def _is_int(v, minimum: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= minimum


VALID = {
    "seed": lambda v: _is_int(v, 0),
    "quick": lambda v: isinstance(v, bool),
    "strict": lambda v: isinstance(v, bool),
    "device": lambda v: v in ("auto", "cpu", "cuda"),
    "backend": lambda v: v in ("local", "ray"),
    "address": lambda v: isinstance(v, str) and v != "",
    "workers": lambda v: _is_int(v, 1),
    "only": lambda v: isinstance(v, str) or (
        isinstance(v, list) and all(isinstance(x, str) for x in v)),
}


def load_config(path: Path) -> dict:
    """The settings in the JSON file ``path`` (keys: :data:`CONFIG_KEYS`), validated."""
    text = read_text(path, "--config")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResdepthError(f"--config {path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ResdepthError(f"--config {path}: expected a JSON object of settings")
    unknown = sorted(set(data) - set(CONFIG_KEYS))
    if unknown:
        raise ResdepthError(f"--config {path}: unknown keys {unknown}; known: {sorted(CONFIG_KEYS)}")
    for key, value in data.items():
        if not VALID[key](value):
            raise ResdepthError(f"--config {path}: {key} = {value!r} is invalid ({CONFIG_KEYS[key]})")
    if "only" in data:
        only = data["only"]
        data["only"] = labels.select(only if isinstance(only, str) else ",".join(only))
    return data


def resume_command(settings: Settings) -> str:
    """The command line that continues the validation described by ``settings``."""
    parts = ["resdepth validate", "--out", str(settings.out_dir), "--resume"]
    if settings.config is not None:
        parts += ["--config", str(settings.config)]
    if settings.quick:
        parts.append("--quick")
    if settings.strict:
        parts.append("--strict")
    if settings.only != LABELS:
        parts += ["--only", ",".join(settings.only)]
    if settings.figures is not None:
        parts += ["--figures", str(settings.figures)]
    for option, value, default in (("--seed", settings.seed, 0), ("--device", settings.device, "auto"),
                                   ("--backend", settings.backend, "local"),
                                   ("--address", settings.address, None),
                                   ("--workers", settings.workers, 1)):
        if value != default:
            parts += [option, str(value)]
    return " ".join(parts)
