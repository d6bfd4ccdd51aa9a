"""``resdepth train``: end to end on the CPU, outputs on disk, one-line errors."""

import json

import pytest
import torch

from numerics.models.checkpoint import load_checkpoint
from numerics.models.data import load_dataset
from resdepth.cli import main


def test_train_writes_checkpoint_metrics_and_plot(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--model", "mlp", "--depth", "2", "--width", "16", "--epochs", "3",
                 "--lr", "1e-2", "--norm", "pre", "--scaling", "inv-sqrt", "--lam", "2",
                 "--seed", "1", "--device", "cpu", "--quiet", "--out", str(out)])
    assert code == 0 and "test acc" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert [r["epoch"] for r in metrics["history"]] == [1, 2, 3] and metrics["device"] == "cpu"
    assert metrics["diverged"] is False and metrics["wall_time_s"] > 0
    assert metrics["model_config"]["scaling"] == "inv-sqrt" and metrics["train_config"]["lr"] == 0.01
    assert metrics["history"][-1]["test_acc"] > 0.5
    model, cfg, meta = load_checkpoint(out / "model.pt")
    assert (cfg.depth, cfg.width, cfg.norm, cfg.lam) == (2, 16, "pre", 2.0) and meta["seed"] == 1
    assert float(model.blocks[0].lam) == pytest.approx(2 / 2 ** 0.5, rel=1e-15)
    data = load_dataset("digits", seed=1)
    with torch.no_grad():
        correct = int((model(data.test_x).argmax(1) == data.test_y).sum())
    assert correct / data.n_test == metrics["history"][-1]["test_acc"]
    assert (out / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"


def test_train_records_divergence_instead_of_crashing(tmp_path, capsys):
    out = tmp_path / "boom"
    code = main(["train", "--dataset", "teacher-student", "--depth", "4", "--width", "16",
                 "--epochs", "3", "--lr", "1e8", "--optimizer", "sgd", "--schedule", "constant",
                 "--quiet", "--out", str(out)])
    assert code == 0 and "DIVERGED" in capsys.readouterr().out
    assert json.loads((out / "metrics.json").read_text())["diverged"] is True
    assert (out / "learning_curve.png").exists()


@pytest.mark.parametrize("argv, message", [
    (["--model", "cnn", "--dataset", "teacher-student"], "8x8 images"),
    (["--model", "transformer", "--dataset", "digits"], "token sequences"),
    (["--model", "transformer", "--width", "10", "--heads", "4"], "divisible by heads"),
    (["--scaling", "deepnorm"], "needs norm='post'"),
    (["--dataset", "digits", "--n-train", "5000"], "n_train"),
])
def test_impossible_requests_are_one_line_errors(tmp_path, capsys, argv, message):
    assert main(["train", *argv, "--epochs", "1", "--quiet", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv", [["--depth", "0"], ["--width", "-3"], ["--lam", "nan"],
                                  ["--dataset", "imagenet"], ["--device", "tpu"]])
def test_bad_argument_values_are_rejected_by_the_parser(tmp_path, argv):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", *argv, "--out", str(tmp_path / "x")])
    assert exit_info.value.code == 2


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_gpu_is_a_clear_error(tmp_path, capsys):
    assert main(["train", "--device", "cuda", "--quiet", "--out", str(tmp_path / "x")]) == 2
    assert "no CUDA GPU" in capsys.readouterr().err


def test_the_default_recipe_trains_a_depth_4_mlp_past_93_percent(tmp_path, capsys):
    """Issue 14: this command ended at 72.8% with the old defaults (AdamW 1e-3, batch 128)."""
    out = tmp_path / "mlp4"
    assert main(["train", "--model", "mlp", "--dataset", "digits", "--depth", "4", "--width",
                 "32", "--epochs", "5", "--quiet", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["history"][-1]["test_acc"] > 0.93, metrics["history"][-1]
    assert metrics["train_config"] == {"epochs": 5, "batch_size": 32, "lr": 0.01,
                                       "optimizer": "adamw", "weight_decay": 0.0,
                                       "schedule": "cosine", "engine": "stacked"}


@pytest.mark.parametrize("argv, message", [
    (["--depth", "100000"], "too large to train here"),
    (["--norm", "post", "--width", "1"], "width >= 2"),
    (["--norm", "pre", "--width", "1"], "width >= 2"),
    (["--model", "cnn", "--norm", "batch", "--engine", "stacked"], "stacked engine"),
])
def test_runs_that_cannot_work_stop_before_training(tmp_path, capsys, argv, message):
    assert main(["train", *argv, "--quiet", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_an_out_path_that_is_a_file_is_refused_before_training(tmp_path, capsys):
    target = tmp_path / "afile"
    target.write_text("x")
    assert main(["train", "--quiet", "--out", str(target / "run")]) == 2
    err = capsys.readouterr().err
    assert "is a file" in err and "Traceback" not in err


def test_sigterm_saves_the_finished_epochs_and_prints_the_rerun_command(tmp_path):
    """SIGTERM is handled like Ctrl-C: the model as it stood and the finished epochs are saved,
    the command that trains it in full is printed, exit code 130."""
    import os
    import signal
    import subprocess
    import sys
    import threading
    import time

    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "resdepth", "train", "--depth", "2", "--width", "8", "--epochs",
         "100000", "--n-train", "64", "--batch-size", "64", "--device", "cpu", "--out", str(out)],
        stderr=subprocess.PIPE, text=True, env=env)
    err: list[str] = []
    epoch_done = threading.Event()

    def read():
        for chunk in iter(lambda: proc.stderr.read(1), ""):
            err.append(chunk)
            if "epoch=" in "".join(err[-400:]):
                epoch_done.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert epoch_done.wait(120), "".join(err)
        time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 130
    finally:
        proc.kill()
    reader.join(10)
    text = "".join(err)
    assert "interrupted after" in text and "resdepth train" in text and "-full" in text
    assert "Traceback" not in text and "step" in text  # the bar counts steps (its ETA)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["interrupted"] is True and len(metrics["history"]) >= 1
    assert load_checkpoint(out / "model.pt")[2]["interrupted"] is True


def test_a_run_that_would_not_finish_in_time_is_refused_before_training(tmp_path, capsys):
    """The time estimate (a few steps timed at depth <= 128, scaled to the depth) refuses a run
    beyond --max-hours in one line, before anything is trained or written."""
    out = tmp_path / "slow"
    argv = ["train", "--depth", "20000", "--width", "16", "--quiet", "--out", str(out)]
    assert main([*argv, "--max-hours", "0.001"]) == 2
    err = capsys.readouterr().err
    assert "would take about" in err and "--max-hours 0.001" in err
    assert len(err.strip().splitlines()) == 1 and not (out / "model.pt").exists()


def test_step_time_estimate_grows_with_depth():
    from numerics.models.config import ModelConfig
    from numerics.models.recipes import recipe_for
    from numerics.models.train import step_seconds

    data = load_dataset("digits", seed=0, n_train=64)
    cfg = ModelConfig(depth=1000, width=8)
    one = step_seconds(cfg, data, recipe_for(cfg, "digits"))
    ten = step_seconds(ModelConfig(depth=10000, width=8), data, recipe_for(cfg, "digits"))
    assert 0 < one and ten / one > 3  # scaled from the same probe depth: about 10x, noise aside
