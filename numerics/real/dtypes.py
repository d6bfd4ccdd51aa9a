"""float64 end to end in a traced graph: lower-precision islands promoted, the rest named (R2, R5).

THEORY.md R2 and R5 are identities; in floating point they hold to the rounding of the
arithmetic that actually ran. A model traced in float64 often still computes parts of itself
in float32: transformers' Llama upcasts the stream to float32 inside RMSNorm and computes its
rotary tables (``inv_freq`` is a float32 buffer) in float32; attention implementations ask
``softmax(..., dtype=float32)``. An operation of the stream that rounds to float32 rounds every
frozen-gate path too, and the paths then sum to the output only to ~1e-7.

:func:`promote_to_float64` rewrites the captured graph: every floating dtype argument narrower
than float64 (``to``, ``_to_copy``, ``softmax(dtype=)``, ``arange/full/zeros(dtype=)``, ...)
becomes float64 (complex64 becomes complex128), and every narrower floating constant (buffers,
parameters, lifted constants) is cast to float64. Each rewrite is an :class:`Island` with its
operation, module path and original dtype (``status = "promoted"``). :func:`find_islands` then
lists the nodes whose value is still narrower than float64 (an operator whose output dtype is
fixed, or a graph the user asked to keep as it is): ``status = "kept"``. The tolerance of an
exact identity follows from the narrowest precision that the decomposed values went through,
:func:`exact_tolerance`: ``max(base, C * eps)`` with ``C = 1e3`` (a few thousand roundings of
relative size eps accumulate to at most ~C eps on well-conditioned sums).
"""

from dataclasses import dataclass

import torch
from torch import fx

__all__ = ["Island", "exact_tolerance", "find_islands", "module_path", "promote_to_float64",
           "summarise"]

_WIDE = {torch.float32: torch.float64, torch.float16: torch.float64,
         torch.bfloat16: torch.float64, torch.complex64: torch.complex128}
ROUNDINGS = 1e3
"""C in the tolerance C * eps of an identity evaluated through a precision eps."""


@dataclass(frozen=True)
class Island:
    """A place where the graph computed (or computes) below float64."""

    op: str
    module: str
    dtype: str
    status: str  # promoted | kept
    node: str = ""
    line: str = ""  # file:line `code` of the user's code that made it

    def describe(self) -> str:
        where = f" in {self.module}" if self.module else ""
        where += f" at {self.line}" if self.line else ""
        verb = "promoted to float64" if self.status == "promoted" else "kept below float64"
        return f"{self.op}{where}: {self.dtype} {verb}"


def module_path(node: fx.Node) -> str:
    """The innermost module that ran ``node`` (``model.`` prefix of the tracing wrapper removed)."""
    stack = node.meta.get("nn_module_stack") or {}
    path = list(stack.values())[-1][0] if stack else ""
    return "" if path == "model" else path.removeprefix("model.")


def _line(node: fx.Node) -> str:
    from numerics.real.tracing import user_location

    return user_location(node.meta.get("stack_trace"))


def _op(node: fx.Node) -> str:
    target = node.target
    name = target if isinstance(target, str) else getattr(target, "__name__", str(target))
    return name


def _widen(value, found: list):
    if isinstance(value, torch.dtype) and value in _WIDE:
        found.append(value)
        return _WIDE[value]
    if isinstance(value, tuple):
        return tuple(_widen(v, found) for v in value)
    if isinstance(value, list):
        return [_widen(v, found) for v in value]
    if isinstance(value, dict):
        return {k: _widen(v, found) for k, v in value.items()}
    return value


def promote_to_float64(graph: fx.Graph, constants: dict, *, names: dict | None = None
                       ) -> list[Island]:
    """Rewrite ``graph`` and ``constants`` in place so that nothing is narrower than float64.

    ``names`` maps constant node names to the model's names for them (for the report). Returns
    the islands removed, one per rewritten node or constant.
    """
    islands = []
    for node in graph.nodes:
        if node.op != "call_function":
            continue
        found: list = []
        args, kwargs = _widen(node.args, found), _widen(dict(node.kwargs), found)
        if found:
            node.args, node.kwargs = args, kwargs
            if "assert" in _op(node):  # a dtype check of the value just promoted
                continue
            islands.append(Island(_op(node), module_path(node), str(found[0]).removeprefix(
                "torch."), "promoted", node.name, _line(node)))
    for name, value in list(constants.items()):
        if isinstance(value, torch.Tensor) and value.dtype in _WIDE:
            was = value.dtype
            constants[name] = value.detach().to(_WIDE[was])
            islands.append(Island("constant", (names or {}).get(name, name),
                                  str(was).removeprefix("torch."), "promoted", name))
    return islands


def find_islands(graph: fx.Graph, values: dict, on: set | None = None) -> list[Island]:
    """The nodes (among ``on`` when given) whose floating value is narrower than float64."""
    islands = []
    for node in graph.nodes:
        if node.op != "call_function" or (on is not None and node.name not in on):
            continue
        value = values.get(node.name)
        value = value[0] if isinstance(value, tuple | list) and value else value
        if isinstance(value, torch.Tensor) and value.dtype in _WIDE:
            islands.append(Island(_op(node), module_path(node),
                                  str(value.dtype).removeprefix("torch."), "kept", node.name,
                                  _line(node)))
    return islands


def summarise(islands) -> list[str]:
    """One line per distinct (op, line of code, dtype, status), naming its modules (the first
    three, then how many more): a 30-layer model's 61 RMSNorm upcasts are one line."""
    groups: dict = {}
    for island in islands:
        key = (island.op, island.line, island.dtype, island.status)
        groups.setdefault(key, []).append(island.module)
    lines = []
    for (op, line, dtype, status), modules in groups.items():
        names = list(dict.fromkeys(m for m in modules if m))
        where = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        text = Island(op, where, dtype, status, line=line).describe()
        lines.append(f"{text} (x{len(modules)})" if len(modules) > 1 else text)
    return lines


def exact_tolerance(base: float, islands: list[Island]) -> float:
    """``max(base, C eps)`` over the kept islands' dtypes: what an exact identity can promise.

    >>> exact_tolerance(1e-10, [])
    1e-10
    >>> round(exact_tolerance(1e-10, [Island("mul", "m", "float32", "kept")]), 7)
    0.0001192
    """
    eps = [torch.finfo(getattr(torch, i.dtype)).eps for i in islands
           if i.status == "kept" and i.dtype.startswith(("float", "bfloat"))]
    return max([base] + [ROUNDINGS * e for e in eps])
