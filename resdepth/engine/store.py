"""``results.sqlite``: the finished training runs and the check rows of a validation.

Three tables:

- ``runs``: one row per finished training run, keyed by :meth:`RunSpec.key`, holding the
  trained ``state_dict`` as bytes (written with ``torch.save``, read back with
  ``torch.load(..., weights_only=True)``), the TrainResult as JSON (``metrics``), the status
  ``finished`` or ``diverged``, the input/output sizes that rebuild the model, and the wall
  time. A run is committed the moment it finishes, so an interrupted sweep loses nothing
  finished.
- ``results``: the rows of the latest validation, in report order, each committed as soon as
  its check returns.
- ``checks``: each finished check's rows with the fingerprint they were computed under (label,
  mode, seed, device, code version, torch version): ``validate --resume`` reuses a check whose
  fingerprint is unchanged and reruns only what did not finish or changed.

Every write is its own transaction; the file is always a consistent snapshot.
"""

import io
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import torch

STATUSES = ("finished", "diverged")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    key TEXT PRIMARY KEY,
    status TEXT NOT NULL CHECK (status IN ('finished', 'diverged')),
    state BLOB NOT NULL,
    metrics TEXT NOT NULL,
    in_dim INTEGER NOT NULL,
    out_dim INTEGER NOT NULL,
    wall_time_s REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS checks (
    check_name TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    rows TEXT NOT NULL,
    wall_time_s REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS results (
    position INTEGER PRIMARY KEY,
    check_name TEXT NOT NULL,
    row TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class TrainedRun:
    """A finished training run as it travels from a worker to the store.

    ``state`` is the ``torch.save`` bytes of the CPU state_dict; ``metrics`` the TrainResult
    as a JSON-able dict; ``status`` is ``diverged`` when training produced a non-finite loss.
    """

    key: str
    status: str
    state: bytes
    metrics: dict
    in_dim: int
    out_dim: int
    wall_time_s: float

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")


@dataclass(frozen=True)
class FinishedCheck:
    """A check's stored rows, the fingerprint they were computed under, and its wall time."""

    fingerprint: dict
    rows: list
    wall_time_s: float


def state_to_bytes(state_dict: dict) -> bytes:
    """``state_dict`` (moved to the CPU) as ``torch.save`` bytes."""
    buffer = io.BytesIO()
    torch.save({name: tensor.detach().cpu() for name, tensor in state_dict.items()}, buffer)
    return buffer.getvalue()


def state_from_bytes(blob: bytes) -> dict:
    """The state_dict saved by :func:`state_to_bytes`, loaded with ``weights_only=True``."""
    return torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)


class Store:
    """The sqlite file of one validation folder.

    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     store = Store(pathlib.Path(tmp) / "results.sqlite")
    ...     run = TrainedRun("k", "finished", state_to_bytes({}), {"history": []}, 2, 3, 0.1)
    ...     store.save_run(run)
    ...     print(store.finished_keys(), store.load_run("k").out_dim)
    ...     store.close()
    {'k'} 3
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path)
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise ValueError(f"{self.path} is not a resdepth results database: {exc}") from None

    def close(self) -> None:
        self._db.close()

    def save_run(self, run: TrainedRun) -> None:
        """Commit ``run`` (replacing an earlier run with the same key)."""
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?, ?, ?)",
                (run.key, run.status, run.state, json.dumps(run.metrics), run.in_dim,
                 run.out_dim, run.wall_time_s),
            )

    def finished_keys(self) -> set[str]:
        """Keys of every committed run (finished or diverged)."""
        return {key for (key,) in self._db.execute("SELECT key FROM runs")}

    def load_run(self, key: str) -> TrainedRun | None:
        """The committed run for ``key``, or None."""
        row = self._db.execute(
            "SELECT key, status, state, metrics, in_dim, out_dim, wall_time_s FROM runs "
            "WHERE key = ?", (key,),
        ).fetchone()
        if row is None:
            return None
        key, status, state, metrics, in_dim, out_dim, wall = row
        return TrainedRun(key, status, bytes(state), json.loads(metrics), in_dim, out_dim, wall)

    def run_summary(self) -> dict:
        """Counts of runs per status and their total wall time."""
        rows = self._db.execute(
            "SELECT status, COUNT(*), COALESCE(SUM(wall_time_s), 0) FROM runs GROUP BY status"
        ).fetchall()
        return {status: {"runs": count, "wall_time_s": wall} for status, count, wall in rows}

    def clear_results(self) -> None:
        """Forget the check rows of an earlier validation (runs are kept)."""
        with self._db:
            self._db.execute("DELETE FROM results")

    def add_result(self, check_name: str, row: dict) -> None:
        """Commit one report row (a JSON-able dict) after the rows already stored."""
        with self._db:
            self._db.execute(
                "INSERT INTO results (check_name, row) VALUES (?, ?)",
                (check_name, json.dumps(row)),
            )

    def save_check(self, check_name: str, fingerprint: dict, rows: list[dict],
                   wall_time_s: float) -> None:
        """Commit a finished check's report rows under ``fingerprint`` (replacing older ones)."""
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO checks VALUES (?, ?, ?, ?)",
                (check_name, json.dumps(fingerprint, sort_keys=True), json.dumps(rows),
                 wall_time_s),
            )

    def load_check(self, check_name: str) -> FinishedCheck | None:
        """The stored rows of ``check_name`` with their fingerprint, or None."""
        row = self._db.execute(
            "SELECT fingerprint, rows, wall_time_s FROM checks WHERE check_name = ?",
            (check_name,)).fetchone()
        if row is None:
            return None
        fingerprint, rows, wall = row
        return FinishedCheck(json.loads(fingerprint), json.loads(rows), wall)

    def results(self) -> list[tuple[str, dict]]:
        """The stored rows in the order they were added, each with its check's name."""
        rows = self._db.execute("SELECT check_name, row FROM results ORDER BY position")
        return [(name, json.loads(row)) for name, row in rows]


DB_NAME = "results.sqlite"


def open_store(folder: Path, *, resume: bool, fresh: bool, holds: str) -> Store:
    """The store ``folder/results.sqlite`` of a run that ``holds`` something (a validation, an
    experiment): an existing one is never overwritten silently (``resume`` continues it,
    ``fresh`` deletes it first), and ``resume`` on a folder without one is refused."""
    from resdepth.engine.errors import ResdepthError

    path = Path(folder) / DB_NAME
    if path.exists() and not (resume or fresh):
        raise ResdepthError(f"{path} already holds {holds}: add --resume to continue it "
                            f"(finished training runs are reused) or --fresh to delete it and "
                            f"start over")
    if resume and not path.exists():
        raise ResdepthError(f"--resume: {folder} holds no {holds.split()[-1]} to resume "
                            f"(no {DB_NAME}); run without --resume to start one")
    if fresh and path.exists():
        path.unlink()
    return Store(path)
