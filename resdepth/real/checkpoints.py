"""Local checkpoints as users have them: ``--model hf:DIR`` and ``--model gguf:FILE``, ``--text``.

- ``hf:DIR``: a transformers folder (``config.json`` and the weights, safetensors or .bin):
  the class its config names in ``architectures`` (``AutoModel`` when it names none);
- ``gguf:FILE``: a GGUF file through transformers' own GGUF reader (dequantised to float64),
  a causal LM (``AutoModelForCausalLM``);
- ``--text "..."``: token ids from the checkpoint's own tokenizer (``tokenizer.json`` or the
  folder's tokenizer files; a GGUF file's tokenizer metadata), one row.

Every failure is one line (:class:`resdepth.engine.errors.ResdepthError`): a path that does not
exist, a folder without ``config.json``, an architecture transformers' GGUF reader does not
support, a checkpoint without a tokenizer. Loading runs no user code (``trust_remote_code``
stays off). Needs the ``hf`` extra (transformers, safetensors, gguf, accelerate).
"""

from pathlib import Path

from resdepth.engine.errors import ResdepthError

__all__ = ["PREFIXES", "check_path", "is_local_checkpoint", "is_causal_lm", "load_checkpoint_model",
           "tokenize"]

PREFIXES = ("hf:", "gguf:")


def is_local_checkpoint(text: str | None) -> bool:
    return bool(text) and text.startswith(PREFIXES)


def _transformers():
    try:
        import transformers
        from transformers.utils import logging
    except ImportError:
        raise ResdepthError("--model hf:/gguf: needs the hf extra: pip install "
                            "'resdepth[hf]'") from None
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    return transformers


def _first(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def check_path(text: str) -> tuple[str, Path]:
    kind, _, rest = text.partition(":")
    if not rest:
        raise ResdepthError(f"--model {kind}: needs a path after the colon ({kind}:PATH)")
    path = Path(rest).expanduser()
    if not path.exists():
        raise ResdepthError(f"--model {text}: {path} does not exist")
    if kind == "hf" and not path.is_dir():
        raise ResdepthError(f"--model {text}: {path} is not a folder (hf:DIR names a "
                            "transformers folder with config.json)")
    if kind == "hf" and not (path / "config.json").is_file():
        raise ResdepthError(f"--model {text}: no config.json in {path}")
    if kind == "gguf" and not path.is_file():
        raise ResdepthError(f"--model {text}: {path} is not a file (gguf:FILE names a .gguf "
                            "file)")
    return kind, path


def _gguf_architecture(path: Path) -> str:
    import gguf

    try:
        reader = gguf.GGUFReader(str(path))
        field = reader.fields["general.architecture"]
        return bytes(field.parts[field.data[0]]).decode()
    except Exception as exc:  # a file that is not GGUF: one line
        raise ResdepthError(f"--model gguf:{path}: not a readable GGUF file "
                            f"({type(exc).__name__}: {_first(exc)})") from None


def load_checkpoint_model(text: str):
    """The float64 model of ``hf:DIR`` or ``gguf:FILE`` (eval mode is set by the caller)."""
    import torch

    transformers = _transformers()
    kind, path = check_path(text)
    try:
        if kind == "gguf":
            from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES

            arch = _gguf_architecture(path)
            if arch not in GGUF_SUPPORTED_ARCHITECTURES:
                raise ResdepthError(f"--model {text}: GGUF architecture {arch!r} is not "
                                    "supported by transformers' GGUF reader (it reads "
                                    f"{', '.join(sorted(GGUF_SUPPORTED_ARCHITECTURES)[:12])}, "
                                    "...)")
            return transformers.AutoModelForCausalLM.from_pretrained(
                str(path.parent), gguf_file=path.name, dtype=torch.float64)
        config = transformers.AutoConfig.from_pretrained(str(path))
        names = [a for a in (getattr(config, "architectures", None) or [])
                 if hasattr(transformers, a)]
        cls = getattr(transformers, names[0]) if names else transformers.AutoModel
        return cls.from_pretrained(str(path), dtype=torch.float64)
    except ResdepthError:
        raise
    except Exception as exc:  # transformers reports bad checkpoints with many exception types
        raise ResdepthError(f"--model {text}: transformers could not load it "
                            f"({type(exc).__name__}: {_first(exc)})") from None


def tokenize(text_model: str, text: str):
    """(the (1, T) token ids of ``text`` by the checkpoint's own tokenizer, id -> text)."""
    transformers = _transformers()
    kind, path = check_path(text_model)
    try:
        if kind == "gguf":
            tokenizer = transformers.AutoTokenizer.from_pretrained(str(path.parent),
                                                                   gguf_file=path.name)
        else:
            tokenizer = transformers.AutoTokenizer.from_pretrained(str(path))
    except Exception as exc:  # a checkpoint without a usable tokenizer: one line
        raise ResdepthError(f"--text: {text_model} has no tokenizer transformers can load "
                            f"({type(exc).__name__}: {_first(exc)})") from None
    ids = tokenizer(text, return_tensors="pt")["input_ids"]
    if ids.numel() == 0:
        raise ResdepthError("--text: the tokenizer made no tokens of the text")
    return ids, lambda i: tokenizer.convert_ids_to_tokens(int(i))


def is_causal_lm(model) -> bool:
    """Whether ``model`` is a transformers causal language model (a ``*ForCausalLM``)."""
    try:
        from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
    except ImportError:
        return False
    names = set()
    for value in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.values():
        names.update([value] if isinstance(value, str) else value)
    return type(model).__name__ in names or type(model).__name__.endswith("ForCausalLM")
