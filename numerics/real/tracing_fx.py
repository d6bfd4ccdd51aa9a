"""The residual structure of a model traced without inputs, by ``torch.fx.symbolic_trace`` (R1, R4).

Used where no example input is given (``resdepth paths --model`` alone): module-level tracing
sees ``nn.Module`` calls and torch functions, enough to count paths, not to decompose outputs
(that needs :mod:`numerics.real.tracing` at actual inputs). A module-level helper function that fx
cannot enter (``torch.zeros(t, d)`` with a traced size ``t``) is traced as one opaque call and
listed in ``opaque``: residual sums inside it are not seen. A failure inside a ``forward``
method (data-dependent control flow) is an error naming the construct and the line.
"""

import contextlib
import functools
import traceback
import types
from pathlib import Path

import torch
from torch import fx, nn

from numerics.real.residual_graph import GraphFacts, Structure, find_structure

__all__ = ["symbolic_structure"]

_TORCH_DIR = str(Path(torch.__file__).parent)
_MAX_WRAPPED = 8


def symbolic_structure(module: nn.Module) -> tuple[Structure, list[str]]:
    """The stream structure of ``module`` by symbolic tracing, and the helpers kept opaque."""
    if not isinstance(module, nn.Module):
        raise ValueError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    graph, opaque = _symbolic_trace(module)
    inputs = [n for n in graph.nodes if n.op == "placeholder"]
    if not inputs:
        raise ValueError("the traced module takes no input")
    out = next(n for n in graph.nodes if n.op == "output").args[0]
    sink = out[0] if isinstance(out, tuple | list) else out
    if not isinstance(sink, fx.Node):
        raise ValueError("the traced module's output does not depend on its input")
    return find_structure(graph, inputs[0], sink, _facts(module, graph)), opaque


def _facts(root: nn.Module, graph: fx.Graph) -> GraphFacts:
    weighted, modules = set(), {}
    for node in graph.nodes:
        if node.op == "call_module":
            modules[node.name] = node.target
            if any(p.dim() >= 2 for p in root.get_submodule(node.target).parameters()):
                weighted.add(node.name)
        elif any(a.op == "get_attr" and _is_weight(root, a.target) for a in node.all_input_nodes):
            weighted.add(node.name)
    return GraphFacts(weighted, None, modules)


def _is_weight(root: nn.Module, target: str) -> bool:
    value = root
    for part in target.split("."):
        value = getattr(value, part)
    return isinstance(value, nn.Parameter) and value.dim() >= 2


def _symbolic_trace(module: nn.Module) -> tuple[fx.Graph, list[str]]:
    """The traced graph and the free functions kept whole because fx cannot enter them.

    A module-level function that fails under tracing is retried as one opaque call (the way
    ``torch.fx.wrap`` records a function, including private ``_helpers`` that fx's autowrap
    skips); a failure inside a ``forward`` method is an error.
    """
    wrapped: list[tuple[dict, str]] = []
    while True:
        tracer = fx.Tracer()
        try:
            with _opaque_calls(tracer, wrapped):
                graph = tracer.trace(module)
            return graph, [f"{g['__name__']}.{name}" for g, name in wrapped]
        except Exception as exc:  # fx reports untraceable code with many exception types
            found = _failing_free_function(exc)
            if found is None or found in wrapped or len(wrapped) >= _MAX_WRAPPED:
                raise ValueError(_untraceable_message(module, exc)) from None
            wrapped.append(found)


@contextlib.contextmanager
def _opaque_calls(tracer: fx.Tracer, wrapped: list[tuple[dict, str]]):
    """Within the block, each listed global function records one fx node when given proxies."""
    originals = [(namespace, name, namespace[name]) for namespace, name in wrapped]
    try:
        for namespace, name, function in originals:
            namespace[name] = _recording(tracer, function)
        yield
    finally:
        for namespace, name, function in originals:
            namespace[name] = function


def _recording(tracer: fx.Tracer, function):
    @functools.wraps(function)
    def call(*args, **kwargs):
        is_proxy = []
        fx.node.map_aggregate((args, kwargs), lambda a: is_proxy.append(isinstance(a, fx.Proxy)))
        if any(is_proxy):
            return tracer.create_proxy("call_function", function, args, kwargs)
        return function(*args, **kwargs)

    return call


def _user_frames(exc: Exception) -> list:
    """The traceback's frames outside torch, innermost last."""
    frames, tb = [], exc.__traceback__
    while tb is not None:
        if not tb.tb_frame.f_code.co_filename.startswith(_TORCH_DIR):
            frames.append(tb)
        tb = tb.tb_next
    return frames


def _failing_free_function(exc: Exception) -> tuple[dict, str] | None:
    """(globals, name) of the module-level function whose body failed, or None."""
    frames = _user_frames(exc)
    if not frames:
        return None
    frame = frames[-1].tb_frame
    name = frame.f_code.co_name
    candidate = frame.f_globals.get(name)
    if isinstance(candidate, types.FunctionType) and candidate.__code__ is frame.f_code:
        return frame.f_globals, name
    return None


def _untraceable_message(module: nn.Module, exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "control flow" in text:
        construct = "data-dependent control flow (an if/while/bool() on a tensor value)"
    elif "iterated" in text or "len(" in text:
        construct = "iteration over or len() of a traced tensor"
    else:
        construct = f"{type(exc).__name__}: {text}"
    where = ""
    frames = _user_frames(exc)
    if frames:
        summary = traceback.extract_tb(frames[-1], limit=1)[0]
        line = (summary.line or "").strip()
        where = f" at {Path(summary.filename).name}:{summary.lineno} `{line}`"
    return (f"cannot trace {type(module).__name__} with torch.fx without inputs: {construct}"
            f"{where}; give example inputs (--inputs MODULE:FN) to trace it with torch.export")
