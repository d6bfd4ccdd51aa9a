"""One tracer for real models: torch.export first, torch.fx's ATen tracer as the fallback (R1, R2).

:func:`capture` turns ``model(*args, **kwargs)`` into an ATen-level ``torch.fx`` graph whose
output is the one tensor to be decomposed (the model's first tensor output, or the entry
``output`` of a dict, tuple or ``ModelOutput``), with every placeholder's value at hand:

1. ``torch.export.export(..., strict=False)``: the whole forward, as ATen operators, for any
   input of the given shapes (what BERT, GPT-2 and ViT from transformers need);
2. if export refuses (data-dependent control flow, for instance), ``make_fx`` from
   ``torch.fx.experimental.proxy_tensor`` run on the actual inputs: the same ATen graph, with
   every data-dependent branch fixed at the branch these inputs take (said in ``notes``): the
   path decomposition is made at these inputs anyway.

:func:`run_graph` evaluates the captured graph (all node values, used for the frozen gates);
:func:`symbolic_graph` traces without inputs by ``torch.fx.symbolic_trace`` (module level, for
path counts only). A model neither route can follow is a ``ValueError`` naming the construct
and the line of the user's code.
"""

import traceback
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import fx, nn
from torch.utils import _pytree as pytree

__all__ = ["Captured", "capture", "first_line", "run_graph", "select_output", "user_location"]

_TORCH_DIR = str(Path(torch.__file__).parent)
_SITE_SKIP = ("torch/", "torch\\", "/transformers/utils/", "contextlib.py", "functools.py")


@dataclass
class Captured:
    """An ATen graph of one model call and the values of its inputs.

    ``constants`` maps placeholder/get_attr node names to parameters, buffers and lifted
    constants; ``params`` maps the names of parameter nodes to their qualified names in the
    model; ``inputs`` maps the user-input placeholders to their values; ``source`` is the
    placeholder of the residual stream's input (the first tensor input).
    """

    graph: fx.Graph
    constants: dict
    params: dict
    inputs: dict
    source: str
    method: str
    model_name: str
    output_name: str
    notes: list = field(default_factory=list)
    targets: dict = field(default_factory=dict)  # constant node -> parameter/buffer name

    def node(self, name: str) -> fx.Node:
        return next(n for n in self.graph.nodes if n.name == name)


def first_line(exc: BaseException, limit: int = 200) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:limit]


def user_location(stack_trace: str | None) -> str:
    """``file:line `code``` of the innermost frame of a stack-trace text outside torch."""
    if not stack_trace:
        return ""
    lines = stack_trace.strip().splitlines()
    for i in range(len(lines) - 1, -1, -1):
        line = lines[i].strip()
        if line.startswith("File ") and not any(s in line for s in _SITE_SKIP):
            parts = line.split('"')
            where = f"{Path(parts[1]).name}:{line.split('line ')[-1].split(',')[0]}"
            code = lines[i + 1].strip() if i + 1 < len(lines) else ""
            return f"{where} `{code}`" if code else where
    return ""


def _exception_location(exc: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not f.filename.startswith(_TORCH_DIR)]
    if not frames:
        return ""
    frame = frames[-1]
    return f" at {Path(frame.filename).name}:{frame.lineno} `{(frame.line or '').strip()}`"


def select_output(out, name: str | None = None):
    """(tensor, its name): ``out[name]`` (dict, ModelOutput, tuple index) or the first tensor.

    >>> select_output({"a": 1, "b": torch.zeros(2)})[1]
    'b'
    """
    if name is not None:
        if isinstance(out, dict) and name in out:
            value = out[name]
        elif isinstance(out, tuple | list) and name.isdigit() and int(name) < len(out):
            value = out[int(name)]
        else:
            keys = list(out.keys()) if isinstance(out, dict) else f"{len(out)} positions" \
                if isinstance(out, tuple | list) else type(out).__name__
            raise ValueError(f"--output {name!r}: the model's output has no such entry "
                             f"(it has {keys})")
        if not isinstance(value, torch.Tensor):
            raise ValueError(f"--output {name!r} is a {type(value).__name__}, not a tensor")
        return value, name
    if isinstance(out, torch.Tensor):
        return out, "output"
    items = list(out.items()) if isinstance(out, dict) else \
        list(enumerate(out)) if isinstance(out, tuple | list) else []
    for key, value in items:
        if isinstance(value, torch.Tensor):
            return value, str(key)
    raise ValueError(f"the model returned {type(out).__name__} with no tensor to decompose")


class _Selected(nn.Module):
    """model(*args, **kwargs) reduced to the one output tensor that is decomposed."""

    def __init__(self, model: nn.Module, output: str | None):
        super().__init__()
        self.model, self.output = model, output

    def forward(self, *args, **kwargs):
        return select_output(self.model(*args, **kwargs), self.output)[0]


def _exported(wrapper: _Selected, args: tuple, kwargs: dict):
    """(graph, constants, params, user-input placeholder names) from torch.export."""
    program = torch.export.export(wrapper, args, kwargs, strict=False)
    state = {**program.state_dict, **program.constants}
    constants, params, user, targets = {}, {}, [], {}
    for spec in program.graph_signature.input_specs:
        name = spec.arg.name
        if spec.kind.name == "USER_INPUT":
            user.append(name)
        elif spec.target in state:
            constants[name] = state[spec.target]
            if spec.kind.name in ("PARAMETER", "BUFFER"):
                targets[name] = spec.target.removeprefix("model.")
            if spec.kind.name == "PARAMETER":
                params[name] = spec.target.removeprefix("model.")
    return program.graph, constants, params, user, targets


def _made_fx(wrapper: _Selected, args: tuple, kwargs: dict):
    """The same from ``make_fx`` at the actual inputs (data-dependent branches fixed)."""
    from torch.fx.experimental.proxy_tensor import make_fx

    leaves, spec = pytree.tree_flatten((args, kwargs))
    positions = [i for i, leaf in enumerate(leaves) if isinstance(leaf, torch.Tensor)]

    def call(*tensors):
        flat = list(leaves)
        for i, t in zip(positions, tensors):
            flat[i] = t
        a, k = pytree.tree_unflatten(flat, spec)
        return wrapper(*a, **k)

    module = make_fx(call, tracing_mode="real", pre_dispatch=True, record_module_stack=True,
                     record_stack_traces=True, _error_on_data_dependent_ops=False)(
        *[leaves[i] for i in positions])
    by_id = {id(p): name for name, p in wrapper.model.named_parameters()}
    buffers = {id(b): name for name, b in wrapper.model.named_buffers()}
    constants, params, targets = {}, {}, {}
    for node in module.graph.nodes:
        if node.op == "get_attr":
            value = getattr(module, node.target)
            constants[node.name] = value
            if id(value) in by_id:
                params[node.name] = targets[node.name] = by_id[id(value)]
            elif id(value) in buffers:
                targets[node.name] = buffers[id(value)]
    user = [n.name for n in module.graph.nodes if n.op == "placeholder"]
    return module.graph, constants, params, user, targets


def capture(model: nn.Module, args: tuple = (), kwargs: dict | None = None, *,
            output: str | None = None) -> Captured:
    """The ATen graph of ``model(*args, **kwargs)`` reduced to the decomposed output tensor.

    The model is used as given (make it float64 and eval first). Raises ``ValueError`` naming
    the construct (and the user's file:line) when neither torch.export nor make_fx can trace.
    """
    kwargs = dict(kwargs or {})
    wrapper = _Selected(model, output)
    name = type(model).__name__
    notes = []
    try:
        graph, constants, params, user, targets = _exported(wrapper, args, kwargs)
        method = "torch.export"
    except Exception as exc:  # export reports untraceable code with many exception types
        notes.append(f"torch.export refused ({type(exc).__name__}: {first_line(exc, 120)}); "
                     "traced with make_fx at the given inputs (data-dependent branches fixed)")
        try:
            graph, constants, params, user, targets = _made_fx(wrapper, args, kwargs)
        except Exception as exc2:  # noqa: BLE001 - reported on one line
            raise ValueError(f"cannot trace {name}: torch.export: {first_line(exc, 120)}; "
                             f"torch.fx (make_fx): {first_line(exc2, 120)}"
                             f"{_exception_location(exc2) or _exception_location(exc)}") from None
        method = "torch.fx make_fx (at these inputs)"
    leaves = [leaf for leaf in pytree.tree_leaves((args, kwargs))]
    if method == "torch.fx make_fx (at these inputs)":
        leaves = [leaf for leaf in leaves if isinstance(leaf, torch.Tensor)]
    inputs = dict(zip(user, leaves))
    tensor_inputs = [n for n in user if isinstance(inputs.get(n), torch.Tensor)]
    if not tensor_inputs:
        raise ValueError(f"{name} was given no tensor input")
    return Captured(graph, constants, params, inputs, tensor_inputs[0], method, name,
                    output or "first tensor output", notes, targets)


def functional(node: fx.Node):
    """The node's operation, out of place: ``aten.relu_`` runs as ``aten.relu`` (so that the
    recorded value of the tensor it would have overwritten stays what it was)."""
    target = node.target
    packet = getattr(target, "_overloadpacket", None)
    name = getattr(packet, "__name__", "")
    if name.endswith("_") and not name.startswith("_"):
        base = getattr(torch.ops.aten, name[:-1], None)
        overload = getattr(base, target._overloadname, None) if base is not None else None
        if overload is not None:
            return overload
    return target


def run_graph(captured: Captured, overrides: dict | None = None) -> dict:
    """Every node's value, evaluating the graph's ATen operators in order.

    ``overrides`` maps node names to values used instead of computing them (the residual
    stream at a block boundary, say); the output node's value is the decomposed tensor.
    """
    overrides = overrides or {}
    env: dict = {}
    for node in captured.graph.nodes:
        if node.name in overrides:
            env[node.name] = overrides[node.name]
        elif node.op == "placeholder":
            env[node.name] = captured.constants.get(node.name, captured.inputs.get(node.name))
        elif node.op == "get_attr":
            env[node.name] = captured.constants[node.name]
        elif node.op == "call_function":
            args, kwargs = fx.node.map_arg((node.args, node.kwargs), lambda a: env[a.name])
            env[node.name] = functional(node)(*args, **kwargs)
        elif node.op == "output":
            env[node.name] = fx.node.map_arg(node.args[0], lambda a: env[a.name])
            if isinstance(env[node.name], tuple | list):
                env[node.name] = env[node.name][0]
        else:
            raise ValueError(f"unexpected graph node {node.op} {node.target}")
    return env
