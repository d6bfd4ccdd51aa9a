"""results.sqlite: runs survive a reopen bit for bit, load weights-only, and reject bad input."""

import datetime
import io
import pickle

import pytest
import torch

from resdepth.engine.store import Store, TrainedRun, state_from_bytes, state_to_bytes


def a_run(key: str = "k", status: str = "finished") -> TrainedRun:
    state = {"w": torch.arange(6, dtype=torch.float64).reshape(2, 3), "b": torch.tensor([1.5])}
    metrics = {"history": [{"epoch": 1, "train_loss": 0.25}], "diverged": status == "diverged"}
    return TrainedRun(key, status, state_to_bytes(state), metrics, 3, 2, 0.5)


def test_runs_survive_a_reopen_bit_for_bit(tmp_path):
    path = tmp_path / "results.sqlite"
    store = Store(path)
    store.save_run(a_run("a"))
    store.save_run(a_run("b", "diverged"))
    store.close()
    store = Store(path)
    assert store.finished_keys() == {"a", "b"}
    run = store.load_run("a")
    assert run == a_run("a")
    state = state_from_bytes(run.state)
    assert torch.equal(state["w"], torch.arange(6, dtype=torch.float64).reshape(2, 3))
    assert store.load_run("b").status == "diverged" and store.load_run("c") is None
    assert store.run_summary()["finished"]["runs"] == 1
    store.close()


def test_result_rows_keep_their_order_and_clear(tmp_path):
    store = Store(tmp_path / "r.sqlite")
    for i in (3, 1, 2):
        store.add_result(f"check{i}", {"label": "R1", "measurement": i})
    assert [row["measurement"] for _, row in store.results()] == [3, 1, 2]
    store.clear_results()
    assert store.results() == []
    store.close()


def test_state_loads_weights_only():
    buffer = io.BytesIO()
    torch.save({"w": torch.ones(1), "date": datetime.date(2020, 1, 1)}, buffer)  # not a weight
    with pytest.raises(pickle.UnpicklingError):
        state_from_bytes(buffer.getvalue())


def test_bad_status_and_foreign_file_are_errors(tmp_path):
    with pytest.raises(ValueError, match="status"):
        a_run(status="running")
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ValueError, match="not a resdepth results database"):
        Store(junk)
