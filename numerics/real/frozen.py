"""Exact frozen-gate path decomposition of a real residual network at its actual input (R2).

THEORY.md R2, *real architectures*. Freeze every gate at its value on the given input
(:mod:`numerics.real.frozen_rules`: ReLU masks, max-pool argmaxes, BatchNorm in eval mode, LayerNorm's
1/sigma, softmax patterns, GELU as z Phi(z) with Phi frozen). Every piece of the traced stream
(:mod:`numerics.real.residual_graph`) is then a map linear in augmented coordinates x~ = (x, t):

- a plain piece (LayerNorm after the add, ReLU after the add, a transition, the head):
  P~(v, t) = (P v + t p, t), the augmented coordinate carried along;
- a residual block's skip (identity, alpha x, or a projection) likewise, and each branch
  F~_b(v, t) = (F_b v + t c_b, 0): a branch path has left the identity path.

So x~_out = prod over pieces of (their frozen maps) x~_0 expands into (B+1)^n frozen-gate paths,
one per choice of skip or branch in each block, and at (x_0, 1) their sum is the actual output.
The spectrum y_k (the paths through k branches) follows from the dynamic programme
y^(i)_k = G~_i (P~_i y^(i-1)_k + sum_b F~_ib y^(i-1)_{k-1}) with t-coordinates (1, 0, ..., 0):
block i applies its pieces to i stacked vectors, n(n+1)/2 block applications for n blocks
(:func:`frozen_spectrum`), against (B+1)^n for :func:`enumerate_frozen_paths` (the test oracle).
Each piece's frozen map runs one (v, t) through the graph's operations and is batched over the
stack with :func:`torch.func.vmap`.
"""

from dataclasses import dataclass

import torch
from torch import fx
from tqdm import tqdm

from numerics.probes.spectrum import Spectrum
from numerics.real.dtypes import (
    Island,
    exact_tolerance,
    find_islands,
    module_path,
    promote_to_float64,
)
from numerics.real.frozen_rules import Lin, attention_pattern, frozen_node
from numerics.real.residual_graph import (
    GATE_OPS,
    GraphFacts,
    Structure,
    block_gates,
    find_structure,
)
from numerics.real.streams import refuse_internal_streams, second_stream_notes
from numerics.real.tracing import Captured, capture, functional, run_graph, select_output

__all__ = ["TracedModel", "enumerate_frozen_paths", "frozen_output", "frozen_spectra",
           "frozen_spectrum",
           "run_chain", "trace_model"]

REPRODUCE_TOL = 1e-9
MAX_ENUMERATED = 1 << 14


@dataclass
class TracedModel:
    """A model traced at its inputs: graph, stream structure, node values, decomposed output."""

    captured: Captured
    structure: Structure
    actual: dict
    output: torch.Tensor
    islands: tuple = ()
    eager_gap: float = 0.0

    def exact_tol(self, base: float) -> float:
        """The tolerance of an exact identity on this graph: ``base`` in float64, wider only
        for the islands that stayed below float64 (:func:`numerics.real.dtypes.exact_tolerance`)."""
        return exact_tolerance(base, list(self.islands))

    def kept_islands(self) -> list:
        return [i for i in self.islands if i.status == "kept"]

    @property
    def blocks(self) -> list:
        return self.structure.blocks

    @property
    def chain(self) -> list:
        """The pieces from the first block's input to the output (the stem left out)."""
        return self.structure.pieces[self.structure.block_positions()[0]:]

    @property
    def x0(self) -> torch.Tensor:
        return self.actual[self.blocks[0].start.name]

    def gates(self) -> list[str]:
        return block_gates(self.structure)

    def stream_points(self) -> list[torch.Tensor]:
        """x_0, x_1, ..., x_n: the stream at each block's input and after the last block's gate."""
        pieces, points = self.structure.pieces, [self.x0]
        for p in self.structure.block_positions():
            q = p + 1
            while q < len(pieces) and pieces[q].kind == "plain" and (
                    pieces[q].op in GATE_OPS or pieces[q].op in ("dropout", "clone", "getitem")):
                q += 1
            points.append(self.actual[pieces[q - 1].end.name])
        return points


def _facts(captured: Captured, values: dict) -> GraphFacts:
    """Weighted nodes: those with a weight among their inputs, a parameter of two or more
    dimensions or a value computed from parameters alone (a standardised conv weight, a
    weight-normalised matrix: StdConv, weight_norm)."""
    weights = {name for name, q in captured.params.items()
               if captured.constants[name].dim() >= 2}
    weighted, modules = set(), {}
    for node in captured.graph.nodes:
        modules[node.name] = module_path(node)
        if node.op != "call_function":
            continue
        ins = node.all_input_nodes
        if any(a.name in weights for a in ins):
            weighted.add(node.name)
            if all(a.name in captured.constants or a.name in weights for a in ins):
                weights.add(node.name)  # computed from parameters alone: itself a weight
    return GraphFacts(weighted, values, modules)


def _sink(graph: fx.Graph) -> fx.Node:
    out = next(n for n in graph.nodes if n.op == "output").args[0]
    return out[0] if isinstance(out, tuple | list) else out


def _reproduce_tol(promoted: list[Island]) -> float:
    """How far the float64 graph may sit from the eager model that ran the promoted islands
    in their own precision: REPRODUCE_TOL, or 1e4 eps of the narrowest one (at most 0.1)."""
    eps = [torch.finfo(getattr(torch, i.dtype)).eps for i in promoted
           if i.dtype.startswith(("float", "bfloat"))]
    return max([REPRODUCE_TOL] + [min(0.1, 1e4 * e) for e in eps])


def trace_model(model, args: tuple = (), kwargs: dict | None = None, *,
                output: str | None = None, float64: bool = True) -> TracedModel:
    """Trace ``model(*args, **kwargs)`` (float64, eval mode, as given) and find its blocks.

    With ``float64`` (the default) the graph is promoted to float64 end to end
    (:func:`numerics.real.dtypes.promote_to_float64`: casts to float32, float32 buffers and
    constants, ``softmax(dtype=float32)``), and ``output`` is the promoted graph's own forward
    pass; ``eager_gap`` is its relative distance from the model's eager output (which ran the
    islands in their own precision), required below ``REPRODUCE_TOL`` (or, with islands
    promoted, 1e4 eps of the narrowest, at most 0.1). ``islands`` lists the promoted places
    and those still below float64 on the stream (kept). Raises ``ValueError`` with one line
    when the graph does not reproduce the model, for a model without residual blocks, and for
    constructs the tracer cannot follow.
    """
    kwargs = dict(kwargs or {})
    with torch.no_grad():
        eager = select_output(model(*args, **kwargs), output)[0]
        captured = capture(model, args, kwargs, output=output)
        promoted = promote_to_float64(captured.graph, captured.constants,
                                      names=captured.params) if float64 else []
        actual = run_graph(captured)
    sink = _sink(captured.graph)
    traced_out = actual[sink.name]
    scale = eager.norm().clamp_min(torch.finfo(eager.dtype).tiny)
    gap = float((traced_out.to(eager.dtype) - eager).norm() / scale) \
        if traced_out.shape == eager.shape else float("inf")
    if gap > _reproduce_tol(promoted):
        raise ValueError(f"the traced graph of {captured.model_name} does not reproduce its "
                         "output (a construct the tracer recorded as a constant?)")
    if captured.method.startswith("torch.fx"):
        _check_inputs_still_flow(model, args, kwargs, output, captured,
                                 max(1e-10, _reproduce_tol(promoted)))
    structure = find_structure(captured.graph, captured.node(captured.source), sink,
                               _facts(captured, actual))
    first = structure.block_positions()[0]
    on = {n.name for p in structure.pieces[first:] for n in p.nodes}
    refuse_internal_streams(captured, structure, on)
    captured.notes.extend(second_stream_notes(captured, on))
    kept = find_islands(captured.graph, actual, on)
    return TracedModel(captured, structure, actual, traced_out, tuple(promoted + kept), gap)


def _check_inputs_still_flow(model, args, kwargs, output, captured: Captured,
                             tol: float = 1e-10) -> None:
    """make_fx records as a constant whatever the model computes outside torch (numpy, say):
    nudge the floating inputs and require the graph to follow the model."""
    generator = torch.Generator().manual_seed(0)

    def nudge(v):
        if isinstance(v, torch.Tensor) and v.is_floating_point():
            return v + 1e-4 * v.abs().mean() * torch.randn(v.shape, generator=generator,
                                                           dtype=v.dtype).to(v.device)
        return v

    args2, kwargs2 = tuple(nudge(a) for a in args), {k: nudge(v) for k, v in kwargs.items()}
    with torch.no_grad():
        eager = select_output(model(*args2, **kwargs2), output)[0]
        leaves = [v for v in (*args2, *kwargs2.values()) if isinstance(v, torch.Tensor)]
        moved = Captured(**{**captured.__dict__, "inputs": dict(zip(captured.inputs, leaves))})
        traced = run_graph(moved)[_sink(captured.graph).name]
    if (traced.to(eager.dtype) - eager).norm() > tol * eager.norm():
        raise ValueError(f"cannot trace {captured.model_name}: it computes part of its output "
                         "outside torch (numpy or Python numbers), which the tracer can only "
                         "record as a constant")


class _FrozenPiece:
    """One piece's frozen map (v, t) -> its outputs, batched over a stack by vmap."""

    def __init__(self, piece, actual: dict):
        self.piece, self.actual, self.cache = piece, actual, {}
        self.outputs = [piece.end] if piece.kind == "plain" else [t.node for t in piece.terms]

    def single(self, v, t):
        vals = {self.piece.start.name: Lin(v, 0, self.piece.start.name)}
        for node in self.piece.nodes:
            args, kwargs = fx.node.map_arg(
                (node.args, node.kwargs),
                lambda a: vals[a.name] if a.name in vals else self.actual[a.name])
            vals[node.name] = frozen_node(node, args, kwargs, self.actual, t, self.cache)
        return tuple(vals[o.name].x if isinstance(vals[o.name], Lin) else t * vals[o.name]
                     for o in self.outputs)

    def apply(self, stack: torch.Tensor, flags: torch.Tensor) -> tuple:
        return torch.func.vmap(self.single)(stack, flags)


def _frozen_pieces(traced: TracedModel) -> list:
    """The chain's frozen maps, built once per traced model (their gate caches are reused)."""
    if "_frozen" not in traced.__dict__:
        traced.__dict__["_frozen"] = [_FrozenPiece(p, traced.actual) for p in traced.chain]
    return traced.__dict__["_frozen"]


def _step(fp: _FrozenPiece, stack, flags, deleted: bool = False):
    """(stack, flags) after one piece: a block appends one length (its branches' paths)."""
    outs = fp.apply(stack, flags)
    if fp.piece.kind == "plain":
        return outs[0], flags
    skip_at = next(i for i, t in enumerate(fp.piece.terms) if t.kind != "branch")
    skip = outs[skip_at]
    new = torch.zeros((skip.shape[0] + 1, *skip.shape[1:]), dtype=skip.dtype, device=skip.device)
    new[:-1] = skip
    if not deleted:
        for i, branch in enumerate(outs):
            if i != skip_at:
                new[1:] += branch
    return new, torch.cat([flags, flags.new_zeros(1)])


def frozen_spectrum(traced: TracedModel, *, progress: bool = False) -> Spectrum:
    """The frozen-gate path-length spectrum y_0..y_n of the decomposed output (R2).

    ``terms[k]`` sums the paths through k branches (k = 0..n blocks); ``output`` is the model's
    own output, so :meth:`Spectrum.max_rel_error` measures the decomposition's exactness.
    """
    return frozen_spectra(traced, progress=progress)[1]


def frozen_spectra(traced: TracedModel, *, progress: bool = False) -> tuple[Spectrum, Spectrum]:
    """(stream, output): the spectrum of the stream right after the last block's sum (and its
    gate) and that of the decomposed output, from one pass of the dynamic programme. For a
    language model the second is the first carried through the frozen final norm and the
    unembedding: the logits by path length."""
    stack, flags = traced.x0.unsqueeze(0), traced.x0.new_ones(1)
    last = _after_gate(traced, len(traced.blocks) - 1)
    stream = None
    with torch.no_grad():
        pieces = _frozen_pieces(traced)
        for index, fp in enumerate(tqdm(pieces, desc="frozen spectrum", disable=not progress)):
            stack, flags = _step(fp, stack, flags)
            if index == last:
                stream = Spectrum(stack, traced.actual[fp.piece.end.name])
    return stream, Spectrum(stack, traced.output)


def frozen_output(traced: TracedModel, deleted=(), *, branch_scale=None) -> torch.Tensor:
    """The sum of the frozen-gate paths that avoid the blocks ``deleted`` (0-based).

    With nothing deleted this is the actual output; with block i deleted it is the output
    with i's branches removed *and every gate held at its unlesioned value*. ``branch_scale``
    (one number per block, a tensor that may require grad) multiplies each block's branches
    instead of deleting them: the frozen chain as a function of the branch scales, which
    :func:`numerics.real.lesions.frozen_single_effects` differentiates.
    """
    deleted, block = set(deleted), -1
    x, one = traced.x0, traced.x0.new_ones(())
    grad = branch_scale is not None and branch_scale.requires_grad
    with torch.set_grad_enabled(grad):
        for fp in _frozen_pieces(traced):
            block += fp.piece.kind == "block"
            outs = fp.single(x, one)  # one stream: no vmap needed
            if fp.piece.kind == "plain":
                x = outs[0]
            elif branch_scale is None:
                x = sum(o for t, o in zip(fp.piece.terms, outs)
                        if t.kind != "branch" or block not in deleted)
            else:
                x = sum(o if t.kind != "branch" else branch_scale[block] * o
                        for t, o in zip(fp.piece.terms, outs))
    return x


def enumerate_frozen_paths(traced: TracedModel) -> tuple[torch.Tensor, torch.Tensor]:
    """Every frozen-gate path term separately, with its length: the (B+1)^n-term oracle.

    Refuses more than ``MAX_ENUMERATED`` paths.
    """
    count = 1
    for block in traced.blocks:
        count *= 1 + len(block.branches)
    if count > MAX_ENUMERATED:
        raise ValueError(f"{count} paths is too many to enumerate (at most {MAX_ENUMERATED})")
    paths, flags = traced.x0.unsqueeze(0), traced.x0.new_ones(1)
    lengths = torch.zeros(1, dtype=torch.long)
    with torch.no_grad():
        for fp in _frozen_pieces(traced):
            outs = fp.apply(paths, flags)
            if fp.piece.kind == "plain":
                paths = outs[0]
                continue
            skip_at = next(i for i, t in enumerate(fp.piece.terms) if t.kind != "branch")
            branches = [o for i, o in enumerate(outs) if i != skip_at]
            paths = torch.cat([outs[skip_at], *branches])
            flags = torch.cat([flags] + [torch.zeros_like(flags)] * len(branches))
            lengths = torch.cat([lengths] + [lengths + 1] * len(branches))
    return paths, lengths


def _math_attention(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                    enable_gqa=False):
    """scaled_dot_product_attention written out (forward-mode AD has no CPU kernel for it)."""
    pattern = attention_pattern(q, k, attn_mask, is_causal, scale, enable_gqa)
    if enable_gqa and v.shape[-3] != pattern.shape[-3]:
        v = v.repeat_interleave(pattern.shape[-3] // v.shape[-3], -3)
    return pattern @ v


def run_piece(piece, x: torch.Tensor, actual: dict) -> dict:
    """The actual values of a piece's nodes when its input is ``x`` (gates recomputed)."""
    env = {piece.start.name: x}
    for node in piece.nodes:
        args, kwargs = fx.node.map_arg((node.args, node.kwargs),
                                       lambda a: env[a.name] if a.name in env else actual[a.name])
        op = functional(node)
        if op is torch.ops.aten.scaled_dot_product_attention.default:
            op = _math_attention
        env[node.name] = op(*args, **kwargs)
    return env


def run_chain(traced: TracedModel, x0: torch.Tensor | None = None, *, deleted=(),
              insert=None) -> torch.Tensor:
    """The model's output from the stream input ``x0`` with the blocks ``deleted`` (0-based)
    reduced to their skips, every gate recomputed; ``insert = (i, fn)`` applies ``fn`` to the
    stream right after block i's gate (a block inserted there)."""
    deleted, block = set(deleted), -1
    x = traced.x0 if x0 is None else x0
    pieces = traced.chain
    insert_at = _after_gate(traced, insert[0]) if insert is not None else None
    for index, piece in enumerate(pieces):
        env = run_piece(piece, x, traced.actual)
        if piece.kind == "block":
            block += 1
            x = env[piece.skip.node.name] if block in deleted else env[piece.end.name]
        else:
            x = env[piece.end.name]
        if index == insert_at:
            x = insert[1](x)
    return x


def _after_gate(traced: TracedModel, i: int) -> int:
    """The index in ``traced.chain`` of the last gate piece of block i (0-based)."""
    pieces = traced.chain
    positions = [k for k, p in enumerate(pieces) if p.kind == "block"]
    q = positions[i] + 1
    while q < len(pieces) and pieces[q].kind == "plain" and (
            pieces[q].op in GATE_OPS or pieces[q].op in ("dropout", "clone", "getitem")):
        q += 1
    return q - 1
