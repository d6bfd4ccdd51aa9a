"""Checkpoints: a model's state_dict with the config that rebuilds it, loaded with weights only.

A checkpoint file holds one dict::

    {"format": "resdepth-checkpoint", "version": 1, "model_config": {...},
     "in_dim": int, "out_dim": int, "meta": {...}, "state_dict": {...}}

and is read back with ``torch.load(..., weights_only=True)``: no code is ever unpickled. A file
that is not such a checkpoint (corrupt, truncated, foreign) raises ``ValueError`` saying what
the file is not (never suggesting to load it unsafely). :func:`checkpoint_file` accepts the
folder ``resdepth train --out`` writes. :func:`load_weights` puts the weights of any model's
``state_dict`` file (``.pt`` read with weights only, or ``.safetensors``) into that model, with
a one-line error naming missing, unexpected and misshapen keys.
"""

import pickle
import zipfile
from dataclasses import asdict, fields
from pathlib import Path

import torch
from torch import nn

from numerics.models.config import ModelConfig
from numerics.models.networks import build_model

FORMAT, VERSION = "resdepth-checkpoint", 1

__all__ = ["checkpoint_file", "load_checkpoint", "load_weights", "read_state_dict",
           "save_checkpoint"]


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


def checkpoint_file(path) -> Path:
    """``path``, or ``path/model.pt`` for the folder ``resdepth train --out`` writes."""
    path = Path(path)
    if path.is_dir():
        if not (path / "model.pt").is_file():
            raise FileNotFoundError(f"no checkpoint in the folder {path} (no model.pt)")
        return path / "model.pt"
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    return path


def _torch_load(path: Path, what: str):
    """``torch.load`` with weights only; what the file is not, on one line, when it fails.

    torch's warnings (pickle protocols, its advice about ``weights_only``) are silenced: a
    file that does not load is simply not a checkpoint, and nothing is loaded unsafely.
    """
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise ValueError(f"{path} is not a readable {what}: not an archive of weights (corrupt, "
                         "or it holds Python objects, which are never unpickled)") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path} is not a readable {what}: not a complete torch archive "
                         f"(corrupt or truncated; {type(exc).__name__})") from None
    except Exception as exc:  # noqa: BLE001 - any other failure to parse: still not a checkpoint
        raise ValueError(f"{path} is not a readable {what} ({type(exc).__name__} while "
                         "reading it)") from None


def load_checkpoint(path) -> tuple[nn.Module, ModelConfig, dict]:
    """The model (on the CPU, eval mode), its ModelConfig and the meta dict stored at ``path``
    (a checkpoint file, or the folder ``resdepth train`` wrote)."""
    path = checkpoint_file(path)
    payload = _torch_load(path, "resdepth checkpoint")
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


def read_state_dict(path) -> dict:
    """The tensors of a ``state_dict`` file: ``.safetensors``, or a ``.pt``/``.pth``/``.bin``
    torch file read with weights only (a resdepth checkpoint gives its ``state_dict``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no weights file at {path}")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except (SafetensorError, OSError, ValueError) as exc:
            raise ValueError(f"{path} is not a readable .safetensors file "
                             f"({str(exc).splitlines()[0][:120]})") from None
    payload = _torch_load(path, "state_dict file")
    if isinstance(payload, dict) and payload.get("format") == FORMAT:
        payload = payload.get("state_dict")
    if not isinstance(payload, dict) or not all(isinstance(v, torch.Tensor)
                                                for v in payload.values()):
        raise ValueError(f"{path} is not a state_dict (a dict of parameter names to tensors)")
    return payload


def load_weights(model: nn.Module, path) -> nn.Module:
    """Load the ``state_dict`` file ``path`` into ``model`` (strict); returns the model.

    A file for another architecture is a ``ValueError`` naming the first missing, unexpected
    and misshapen keys, on one line.
    """
    state = read_state_dict(path)
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}" for k in own
              if k in state and state[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        parts = [f"{label} {len(keys)} ({', '.join(keys[:3])}{', ...' if len(keys) > 3 else ''})"
                 for label, keys in (("missing", missing), ("unexpected", unexpected),
                                     ("misshapen", shapes)) if keys]
        raise ValueError(f"{path} does not fit the model {type(model).__name__}: "
                         + "; ".join(parts))
    model.load_state_dict(state, strict=True)
    return model
