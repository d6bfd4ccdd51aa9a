"""Real models on the command line: ``--model MODULE:FACTORY``, ``--inputs MODULE:FN``,
``--checkpoint FILE``, ``--output NAME``, and their tracing into graphs' plain description.

``--model hf:DIR`` / ``gguf:FILE`` load a local transformers folder or GGUF file, with
``--text`` tokenised by its own tokenizer (:mod:`resdepth.real.checkpoints`). Otherwise a
*source* is either a user model (FACTORY() returns an ``nn.Module``; FN() returns a tensor,
a tuple of positional inputs or a dict of keyword inputs; ``--checkpoint`` then names a
weights-only ``.pt`` state_dict or a ``.safetensors`` file for it) or a resdepth checkpoint
alone (``--checkpoint runs/x`` or ``runs/x/model.pt``), whose inputs default to the first
``--batch`` examples of its own dataset's test split. Importing MODULE runs its code.
Models run in float64, in eval mode, on the device ``numerics.device`` chooses.
"""

import importlib
import os
import sys
from dataclasses import dataclass

from resdepth.engine.errors import ResdepthError

__all__ = ["RealSource", "add_model_options", "load_source", "trace_residual_dag",
           "traced_description"]

RUNS_CODE = ("--model MODULE:FACTORY and --inputs MODULE:FN import the Python module MODULE "
             "(from the current directory or the installed packages; MODULE may also be a file, "
             "path/to/file.py, from anywhere) and call the function: this RUNS THAT CODE, so "
             "only name modules you trust.")


def add_model_options(parser, *, inputs_required_text: str = "") -> None:
    """The options every real-model command shares."""
    group = parser.add_argument_group("real model")
    group.add_argument("--model", metavar="MODULE:FACTORY",
                       help="FACTORY() from the Python module MODULE returns the nn.Module "
                            "(runs that code); or hf:DIR (a transformers folder: config.json "
                            "and safetensors) or gguf:FILE (a GGUF file, read by transformers)")
    group.add_argument("--text", metavar="TEXT",
                       help="with --model hf:DIR or gguf:FILE: the input, tokenised by the "
                            "checkpoint's own tokenizer")
    group.add_argument("--inputs", metavar="MODULE:FN",
                       help="FN() returns the inputs: a tensor, a tuple of positional inputs or "
                            "a dict of keyword inputs (runs that code)" + inputs_required_text)
    group.add_argument("--output", metavar="NAME",
                       help="the output to decompose: a key of a dict/ModelOutput or a tuple "
                            "index (default: the first tensor output)")
    group.add_argument("--checkpoint", metavar="FILE",
                       help="with --model: a weights-only .pt state_dict or .safetensors file "
                            "for it; alone: a resdepth checkpoint (file or the folder "
                            "`resdepth train --out` wrote)")
    group.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                       help="auto takes CUDA when present (default)")
    group.add_argument("--keep-dtypes", action="store_true",
                       help="keep the model's own float32 islands (casts, float32 buffers, "
                            "softmax(dtype=float32)) instead of promoting the traced graph to "
                            "float64; exact rows then use a tolerance derived from them")


@dataclass
class RealSource:
    """A model ready to trace: float64, eval mode, on ``device``, with its inputs."""

    model: object
    args: tuple
    kwargs: dict
    name: str
    inputs_text: str
    init_model: object | None = None
    float64: bool = True
    decode: object | None = None  # token id -> text, with --text


def _import_callable(text: str, option: str):
    module_name, sep, attr = text.partition(":")
    if not sep or not module_name or not attr:
        what = "MODULE:FACTORY" if option == "--model" else "MODULE:FN"
        raise ResdepthError(f"{option} expects {what}, got {text!r}")
    if module_name.endswith(".py"):
        return _from_file(module_name, attr, option)
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ResdepthError(f"{option}: cannot import {module_name!r} from {os.getcwd()}: {exc} "
                            f"(run from the folder that holds it, or name its file: "
                            f"{option} path/to/{module_name.replace('.', '/')}.py:{attr})"
                            ) from None
    except Exception as exc:  # the user's module: report any failure on one line
        raise ResdepthError(f"{option}: importing {module_name!r} raised "
                            f"{type(exc).__name__}: {exc}") from None
    return _callable(module, attr, module_name, option)


def _from_file(path: str, attr: str, option: str):
    """``attr`` of the Python file ``path`` (``--model path/to/file.py:FACTORY``), imported
    under its own name from wherever the command runs."""
    import importlib.util

    file = os.path.abspath(os.path.expanduser(path))
    if not os.path.isfile(file):
        raise ResdepthError(f"{option}: no such file {path!r}")
    spec = importlib.util.spec_from_file_location(
        os.path.splitext(os.path.basename(file))[0], file)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's file: report any failure on one line
        raise ResdepthError(f"{option}: importing {path!r} raised {type(exc).__name__}: "
                            f"{exc}") from None
    return _callable(module, attr, path, option)


def _callable(module, attr: str, where: str, option: str):
    """``module.attr`` when it is callable; else one line naming ``where`` it was looked for."""
    found = getattr(module, attr, None)
    if not callable(found):
        raise ResdepthError(f"{option}: {where} has no callable {attr!r}")
    return found


def _call(function, text: str, option: str):
    try:
        return function()
    except Exception as exc:  # the user's code: report any failure on one line
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise ResdepthError(f"{option}: {text}() raised {type(exc).__name__}: {first}") from None


def load_factory(text: str):
    """FACTORY() for ``--model MODULE:FACTORY``; an ``nn.Module`` or a one-line error."""
    from torch import nn

    model = _call(_import_callable(text, "--model"), text, "--model")
    if not isinstance(model, nn.Module):
        raise ResdepthError(f"--model: {text}() returned {type(model).__name__}, "
                            "not an nn.Module")
    return model


def load_inputs(text: str) -> tuple[tuple, dict]:
    """(args, kwargs) from FN() for ``--inputs MODULE:FN``."""
    import torch

    value = _call(_import_callable(text, "--inputs"), text, "--inputs")
    if isinstance(value, torch.Tensor):
        return (value,), {}
    if isinstance(value, tuple | list):
        return tuple(value), {}
    if isinstance(value, dict):
        return (), dict(value)
    raise ResdepthError(f"--inputs: {text}() returned {type(value).__name__}; return a tensor, "
                        "a tuple of positional inputs or a dict of keyword inputs")


def prepare_inputs(args: tuple, kwargs: dict, device, batch: int | None) -> tuple[tuple, dict]:
    """Floating tensors as float64 on ``device`` (others moved there), the first ``batch`` rows
    of every tensor sharing the first tensor's leading size; NaN or inf is refused."""
    import torch

    tensors = [v for v in (*args, *kwargs.values()) if isinstance(v, torch.Tensor)]
    if not tensors:
        raise ResdepthError("--inputs: no tensor among the inputs")
    rows = tensors[0].shape[0] if tensors[0].dim() else None

    def fix(name, value):
        if not isinstance(value, torch.Tensor):
            return value
        if value.is_floating_point() or value.is_complex():
            if not bool(torch.isfinite(value).all()):
                raise ResdepthError(f"--inputs: input {name} contains NaN or infinity")
            value = value.to(torch.float64)
        if batch is not None and rows is not None and value.dim() and value.shape[0] == rows:
            value = value[:batch]
        return value.to(device)

    return (tuple(fix(f"#{i}", v) for i, v in enumerate(args)),
            {k: fix(repr(k), v) for k, v in kwargs.items()})


def _dataset_inputs(meta: dict, cfg, batch: int):
    from numerics.models.data import load_dataset

    name, seed = meta.get("dataset"), int(meta.get("seed", 0))
    if not name:
        raise ResdepthError("the checkpoint does not name its dataset; give --inputs MODULE:FN")
    data = load_dataset(name, seed=seed)
    return (data.test_x[:batch],), f"{name} test split (seed {seed}), first {batch} examples"


def load_source(args, *, need_inputs: bool = True, batch: int = 64) -> RealSource:
    """The model and inputs the options name (see the module docstring)."""
    import copy

    import torch

    from numerics.device import choose_device

    device = choose_device(args.device)
    if args.model is None and args.checkpoint is None:
        raise ResdepthError("give --model MODULE:FACTORY (with --inputs) or --checkpoint PATH")
    init = None
    text_input = getattr(args, "text", None)
    from resdepth.real.checkpoints import (
        check_path,
        is_local_checkpoint,
        load_checkpoint_model,
        tokenize,
    )

    local = is_local_checkpoint(args.model)
    if text_input is not None and not local:
        raise ResdepthError("--text needs --model hf:DIR or gguf:FILE (their tokenizer); give "
                            "--inputs MODULE:FN for other models")
    if text_input is not None and args.inputs is not None:
        raise ResdepthError("give --text or --inputs, not both")
    if local and args.checkpoint is not None:
        raise ResdepthError(f"--checkpoint cannot be combined with --model {args.model}, which "
                            "brings its own weights")
    decode = None
    if local:
        check_path(args.model)
        if need_inputs and text_input is None and args.inputs is None:
            raise ResdepthError(f"--model {args.model} needs --text \"...\" (or --inputs "
                                "MODULE:FN): the input to trace and decompose at")
        model, name = load_checkpoint_model(args.model), args.model
        if text_input is not None:
            ids, decode = tokenize(args.model, text_input)
            inputs, text = ((ids,), {}), f"--text {text_input!r} ({ids.shape[1]} tokens)"
        elif args.inputs is not None:
            inputs, text = load_inputs(args.inputs), args.inputs
        else:
            return RealSource(model.to(device=device, dtype=torch.float64).eval(), (), {}, name,
                              "none")
    elif args.model is not None:
        model = load_factory(args.model)
        name = args.model
        if args.checkpoint is not None:
            from numerics.models.checkpoint import load_weights

            init = copy.deepcopy(model)
            load_weights(model, args.checkpoint)
            name += f" with {args.checkpoint}"
        if args.inputs is None:
            if need_inputs:
                raise ResdepthError("--model needs --inputs MODULE:FN: the example inputs to "
                                    "trace and decompose at")
            return RealSource(model, (), {}, name, "none")
        inputs, text = load_inputs(args.inputs), args.inputs
    else:
        from numerics.models.checkpoint import load_checkpoint

        model, cfg, meta = load_checkpoint(args.checkpoint)
        name = f"resdepth {cfg.arch} checkpoint {args.checkpoint}"
        if args.inputs is not None:
            inputs, text = load_inputs(args.inputs), args.inputs
        else:
            positional, text = _dataset_inputs(meta, cfg, batch)
            inputs = (positional, {})
    model = model.to(device=device, dtype=torch.float64).eval()
    if init is not None:
        init = init.to(device=device, dtype=torch.float64).eval()
    positional, keywords = prepare_inputs(*inputs, device, batch)
    return RealSource(model, positional, keywords, name, text, init,
                      not getattr(args, "keep_dtypes", False), decode)


def trace(source: RealSource, output: str | None = None):
    """The :class:`numerics.real.frozen.TracedModel` of a source, errors as one line."""
    import torch

    from numerics.real.frozen import trace_model

    try:
        return trace_model(source.model, source.args, source.kwargs, output=output,
                           float64=source.float64)
    except (ValueError, TypeError) as exc:
        raise ResdepthError(str(exc).splitlines()[0]) from None
    except (RuntimeError, IndexError, KeyError, torch.cuda.OutOfMemoryError) as exc:
        text = str(exc).splitlines()[0] if str(exc) else ""
        raise ResdepthError(f"the model rejected the inputs ({type(exc).__name__}: "
                            f"{text[:200]})") from None


def traced_description(traced) -> dict:
    """graphs' plain description of a traced model (``numerics.real.residual_graph.describe``)."""
    from numerics.real.residual_graph import describe

    captured = traced.captured
    return describe(traced.structure, captured.model_name, method=captured.method)


def trace_residual_dag(model, args: tuple | None = None, kwargs: dict | None = None):
    """The residual DAG of ``model``: traced at ``(args, kwargs)`` with torch.export when given,
    else by torch.fx symbolic tracing (module level, for path counts)."""
    from graphs.trace import dag_from_description
    from numerics.real.residual_graph import describe

    if args is None and not kwargs:
        from numerics.real.tracing_fx import symbolic_structure

        structure, opaque = symbolic_structure(model)
        return dag_from_description(describe(structure, f"traced:{type(model).__name__}",
                                             method="torch.fx symbolic", opaque=opaque))
    from numerics.real.frozen import trace_model

    traced = trace_model(model, tuple(args or ()), dict(kwargs or {}))
    return dag_from_description(traced_description(traced))
