"""The residual DAG of a real ``torch.nn.Module``, found by tracing it with torch.fx (R1, R4).

Convention. The traced graph's data dependencies (shape queries such as ``x.size(1)`` carry no
data and are cut) are restricted to the nodes on some path from the first input to the output.
Its *stream* is the chain of nodes that every such path crosses (the dominators of the output).
Between two consecutive stream nodes c and d, either one edge c -> d (a plain layer: embedding,
LayerNorm of a post-norm block, head), or a *residual sum*: d is a sum (``+``, ``torch.add``,
``Tensor.add``) whose flattened terms t_1, ..., t_r all depend on c. A term equal to c is the
identity skip; with no identity term, the term with the fewest operations is taken as a
projection shortcut (a 1x1 convolution in a ResNet). Every other term is a branch, and its depth
is the number of weight-carrying operations (a parameter with two or more dimensions: Linear,
Conv, attention projections) on its longest path, at least 1. The result is
:func:`graphs.builders.residual_dag` of those blocks, with the name of each sum in the stream
node's ``fx`` attribute.

A module-level helper function that fx cannot enter (``torch.zeros(t, d)`` with a traced size
``t``, say) is traced as one opaque call instead, and listed in the graph attribute ``opaque``:
residual sums inside such a function would not be seen. Failures in a ``forward`` method
(data-dependent control flow, for instance) are errors naming the construct and the line.
"""

import contextlib
import functools
import itertools
import operator
import traceback
import types
from pathlib import Path

import networkx as nx
import torch
from torch import fx, nn

from graphs.builders import BlockSpec, residual_dag

__all__ = ["residual_blocks", "trace_residual_dag"]

_SUMS = {operator.add, operator.iadd, torch.add}
_SUM_METHODS = {"add", "add_"}
_META_METHODS = {"size", "dim", "numel", "type", "get_device"}
_META_ATTRS = {"shape", "ndim", "dtype", "device", "is_cuda"}
_TORCH_DIR = str(Path(torch.__file__).parent)
_MAX_WRAPPED = 8


def trace_residual_dag(module: nn.Module) -> nx.DiGraph:
    """Trace ``module`` with torch.fx and return its residual computation DAG.

    Raises ``ValueError`` naming the construct when the module cannot be traced (e.g. an
    ``if`` on a tensor value) or when two paths join other than by a residual sum.

    Examples
    --------
    >>> from torch import nn
    >>> class Block(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.f = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 4))
    ...     def forward(self, x):
    ...         return x + self.f(x)
    >>> from graphs.counting import count_paths
    >>> g = trace_residual_dag(nn.Sequential(Block(), Block(), Block()))
    >>> count_paths(g).total, count_paths(g, "layers").by_length
    (8, (1, 0, 3, 0, 3, 0, 1))
    """
    blocks, sums, opaque = residual_blocks(module)
    graph = residual_dag(blocks, arch=f"traced:{type(module).__name__}")
    graph.graph["opaque"] = ",".join(opaque)
    for i, name in enumerate(sums, start=1):
        graph.nodes[f"x{i}"]["fx"] = name
    return graph


def residual_blocks(module: nn.Module) -> tuple[list[BlockSpec], list[str], list[str]]:
    """The residual blocks of ``module`` in order, the fx names of their sums, and the names
    of the free functions kept whole (residual sums inside those are not seen)."""
    if not isinstance(module, nn.Module):
        raise ValueError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    traced, opaque = _symbolic_trace(module)
    graph, source, sink = _data_graph(traced)
    stream = _stream(graph, source, sink)
    blocks, sums = [], []
    for c, d in itertools.pairwise(stream):
        segment = (nx.descendants(graph, c) & nx.ancestors(graph, d)) | {c, d}
        if len(segment) == 2:
            continue
        blocks.append(_block(module, graph, segment, c, d))
        sums.append(d.name)
    return blocks, sums, opaque


def _symbolic_trace(module: nn.Module) -> tuple[fx.Graph, list[str]]:
    """The traced graph and the free functions kept whole because fx cannot enter them.

    A module-level function that fails under tracing (e.g. ``torch.zeros(t, d)`` with a traced
    size ``t``) is retried as one opaque call (the way ``torch.fx.wrap`` records a function,
    including private ``_helpers`` that fx's autowrap skips); a failure inside a ``forward``
    method is an error.
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
                raise ValueError(_untraceable_message(module, exc)) from exc
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
    return f"cannot trace {type(module).__name__} with torch.fx: {construct}{where}"


def _is_meta(node: fx.Node) -> bool:
    if node.op == "call_method" and node.target in _META_METHODS:
        return True
    return node.op == "call_function" and node.target is getattr and node.args[1] in _META_ATTRS


def _data_graph(traced: fx.Graph) -> tuple[nx.DiGraph, fx.Node, fx.Node]:
    """Data dependencies among the nodes on some path from the first input to the output."""
    nodes = list(traced.nodes)
    inputs = [n for n in nodes if n.op == "placeholder"]
    if not inputs:
        raise ValueError("the traced module takes no input")
    source, sink = inputs[0], next(n for n in nodes if n.op == "output")
    full = nx.DiGraph()
    full.add_nodes_from(nodes)
    full.add_edges_from((u, n) for n in nodes for u in n.all_input_nodes if not _is_meta(u))
    keep = (nx.descendants(full, source) | {source}) & (nx.ancestors(full, sink) | {sink})
    if sink not in keep:
        raise ValueError("the traced module's output does not depend on its first input")
    return full.subgraph(keep).copy(), source, sink


def _stream(graph: nx.DiGraph, source: fx.Node, sink: fx.Node) -> list[fx.Node]:
    """The nodes every source-to-sink path crosses, from source to sink."""
    idom = nx.immediate_dominators(graph, source)
    chain = [sink]
    while chain[-1] is not source:
        chain.append(idom[chain[-1]])
    return chain[::-1]


def _is_sum(node: fx.Node) -> bool:
    if node.op == "call_function" and node.target in _SUMS:
        return True
    return node.op == "call_method" and node.target in _SUM_METHODS


def _describe(node: fx.Node) -> str:
    target = node.target
    if not isinstance(target, str):
        target = getattr(target, "__name__", target)
    return f"{node.name} = {node.op} {target}"


def _terms(graph: nx.DiGraph, node: fx.Node, start: fx.Node, end: fx.Node) -> list[fx.Node]:
    """The terms of the sum tree at ``node``: sums of two segment operands are flattened."""
    operands = [a for a in node.args[:2] if isinstance(a, fx.Node) and a in graph]
    nested = node is end or graph.out_degree(node) == 1
    if node is start or not _is_sum(node) or len(operands) < 2 or not nested:
        return [node]
    return [t for a in operands for t in _terms(graph, a, start, end)]


def _block(root: nn.Module, graph: nx.DiGraph, segment: set, c: fx.Node, d: fx.Node) -> BlockSpec:
    terms = _terms(graph, d, c, d)
    if len(terms) < 2:
        raise ValueError(
            f"paths from {c.name} join at {_describe(d)}, which is not a residual addition; "
            "only sums x + f(x) (+ g(x) ...) may join paths"
        )
    identity = [t for t in terms if t is c]
    if len(identity) > 1:
        raise ValueError(f"the residual sum {d.name} adds its input {c.name} more than once")
    interiors = [(nx.ancestors(graph, t) | {t}) & segment - {c} for t in terms]
    skip = terms.index(c) if identity else min(range(len(terms)), key=lambda i: len(interiors[i]))
    depths = tuple(
        max(1, _layer_depth(root, graph.subgraph(interiors[i] | {c}), c, terms[i]))
        for i in range(len(terms)) if i != skip
    )
    return BlockSpec(branches=len(depths), depth=depths, projection=not identity)


def _layer_depth(root: nn.Module, branch: nx.DiGraph, start: fx.Node, end: fx.Node) -> int:
    """The most weight-carrying operations on one path from ``start`` to ``end`` in ``branch``.

    best(v) = [v carries a weight] + max over predecessors u of best(u), in topological order.
    """
    best = {}
    for node in nx.topological_sort(branch):
        before = max((best[p] for p in branch.predecessors(node)), default=0)
        best[node] = before + (node is not start and _carries_weight(root, node))
    return best[end]


def _carries_weight(root: nn.Module, node: fx.Node) -> bool:
    if node.op == "call_module":
        return any(p.dim() >= 2 for p in root.get_submodule(node.target).parameters())
    for arg in node.all_input_nodes:
        if arg.op == "get_attr":
            value = _fetch(root, arg.target)
            if isinstance(value, nn.Parameter) and value.dim() >= 2:
                return True
    return False


def _fetch(root: nn.Module, target: str):
    value = root
    for part in target.split("."):
        value = getattr(value, part)
    return value
