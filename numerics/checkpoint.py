"""Checkpoints: a model's state_dict with the config that rebuilds it, loaded with weights only.

A checkpoint file holds one dict::

    {"format": "resdepth-checkpoint", "version": 1, "model_config": {...},
     "in_dim": int, "out_dim": int, "meta": {...}, "state_dict": {...}}

and is read back with ``torch.load(..., weights_only=True)``: no code is ever unpickled. A file
that is not such a checkpoint (corrupt, truncated, foreign) raises ``ValueError``.
"""

import pickle
import zipfile
from dataclasses import asdict, fields
from pathlib import Path

import torch
from torch import nn

from numerics.config import ModelConfig
from numerics.models import build_model

FORMAT, VERSION = "resdepth-checkpoint", 1

__all__ = ["load_checkpoint", "save_checkpoint"]


def save_checkpoint(path, model: nn.Module, model_cfg: ModelConfig, in_dim: int, out_dim: int,
                    meta: dict | None = None) -> Path:
    """Write ``model``'s weights (moved to the CPU) and ``model_cfg`` to ``path``; returns it.

    ``meta`` must hold only plain values (str, int, float, bool, None, lists and dicts of them).
    """
    if not isinstance(model_cfg, ModelConfig):
        raise TypeError(f"model_cfg must be a ModelConfig, got {type(model_cfg).__name__}")
    path = Path(path)
    state = {key: value.detach().cpu() for key, value in model.state_dict().items()}
    torch.save({"format": FORMAT, "version": VERSION, "model_config": asdict(model_cfg),
                "in_dim": int(in_dim), "out_dim": int(out_dim), "meta": dict(meta or {}),
                "state_dict": state}, path)
    return path


def load_checkpoint(path) -> tuple[nn.Module, ModelConfig, dict]:
    """The model (on the CPU, eval mode), its ModelConfig and the meta dict stored at ``path``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, OSError,
            ValueError, AttributeError, TypeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is not a readable resdepth checkpoint "
                         f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path} is not a resdepth checkpoint (no {FORMAT!r} header)")
    if payload.get("version") != VERSION:
        raise ValueError(f"{path} has checkpoint version {payload.get('version')!r}; "
                         f"this resdepth reads version {VERSION}")
    known = {f.name for f in fields(ModelConfig)}
    raw = payload.get("model_config")
    if not isinstance(raw, dict) or not set(raw) <= known:
        raise ValueError(f"{path} holds an unknown model configuration: {raw!r}")
    model_cfg = ModelConfig(**raw)
    model = build_model(model_cfg, payload.get("in_dim"), payload.get("out_dim"))
    try:
        model.load_state_dict(payload.get("state_dict"), strict=True)
    except (RuntimeError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path}: weights do not match the stored configuration "
                         f"({str(exc).splitlines()[0][:200]})") from None
    return model.eval(), model_cfg, payload.get("meta") or {}
