"""Checkpoints: weights-only round trip; corrupt, foreign or mismatched files give ValueError."""

import pytest
import torch

from numerics.models.checkpoint import load_checkpoint, save_checkpoint
from numerics.models.config import ModelConfig
from numerics.models.networks import build_model


@pytest.mark.parametrize("cfg, in_dim", [
    (ModelConfig(depth=2, width=8, scaling="learnable", norm="batch"), 64),
    (ModelConfig(arch="cnn", depth=1, width=4, norm="post", scaling="deepnorm"), 64),
    (ModelConfig(arch="transformer", depth=1, width=8, heads=2, norm="pre"), 13),
])
def test_round_trip_restores_config_weights_and_outputs(tmp_path, cfg, in_dim):
    model = build_model(cfg, in_dim, 3, generator=torch.Generator().manual_seed(1)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01)  # weights that differ from any fresh initialisation
    path = save_checkpoint(tmp_path / "model.pt", model, cfg, in_dim, 3, meta={"epochs": 2})
    loaded, loaded_cfg, meta = load_checkpoint(path)
    assert loaded_cfg == cfg and meta == {"epochs": 2}
    x = (torch.randint(0, in_dim, (4, 3)) if cfg.arch == "transformer"
         else torch.randn(4, in_dim, generator=torch.Generator().manual_seed(2)))
    torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)


def _saved(tmp_path):
    cfg = ModelConfig(depth=1, width=4)
    return save_checkpoint(tmp_path / "ok.pt", build_model(cfg, 5, 2), cfg, 5, 2)


def test_corrupt_and_truncated_files_raise_value_error(tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x00\x01not a checkpoint" * 10)
    with pytest.raises(ValueError, match="not a readable resdepth checkpoint"):
        load_checkpoint(junk)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(_saved(tmp_path).read_bytes()[:300])
    with pytest.raises(ValueError, match="not a readable resdepth checkpoint"):
        load_checkpoint(truncated)


def test_foreign_torch_files_raise_value_error(tmp_path):
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(ValueError, match="not a resdepth checkpoint"):
        load_checkpoint(foreign)
    pickled = tmp_path / "pickled.pt"
    torch.save(ModelConfig(), pickled)  # arbitrary objects are refused by weights_only=True
    with pytest.raises(ValueError, match="not a readable resdepth checkpoint"):
        load_checkpoint(pickled)


def test_weights_that_do_not_fit_the_config_raise_value_error(tmp_path):
    path = _saved(tmp_path)
    payload = torch.load(path, weights_only=True)
    payload["model_config"]["width"] = 6
    torch.save(payload, path)
    with pytest.raises(ValueError, match="do not match"):
        load_checkpoint(path)
    payload["model_config"] = {"width": 6, "colour": "red"}
    torch.save(payload, path)
    with pytest.raises(ValueError, match="unknown model configuration"):
        load_checkpoint(path)


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "absent.pt")
