"""The theory's probes on a traced real model (R5, S2/S3/S4, Veit's lesions via R2, D1).

All take a :class:`numerics.real.frozen.TracedModel` (float64, eval mode, traced at its inputs):

- :func:`jacobian_check` (R5): the block-by-block product of Jacobians, each block's Jacobian
  the sum of its terms' (skip or projection, and every branch) by forward mode, against the
  whole model's vector-Jacobian product by reverse-mode autograd: <w, J u> both ways.
- :func:`signal_profile` (S2/S3/S4): ||x_i|| along the stream, each block's effective
  lam_i = ||sum_b lam f_ib(x_{i-1})|| / ||x_{i-1}||, and each block's energy ratio
  r_i = ||s_i + sum_b f_ib||^2 / ||s_i||^2 before its gate against S2's law for a branch
  orthogonal to the stream, 1 + lam_i^2, and the aligned (worst) case (1 + lam_i)^2.
- Veit's lesions (R2) are :mod:`numerics.real.lesion_study` (sequential draws, the frozen
  lesion as a control variate) over :mod:`numerics.real.lesions` (batched lesioned passes).
- :func:`d1_insertion` (D1): after each post-LN block, a zero-initialised block with a fresh
  LayerNorm (weight 1, bias 0) inserted, and the output's change.
"""

import math

import torch
import torch.nn.functional as F
from tqdm import tqdm

from numerics.real.frozen import TracedModel, run_chain, run_piece

__all__ = ["d1_insertion", "jacobian_check", "reinitialised", "reweighted", "signal_profile"]


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm().clamp_min(torch.finfo(b.dtype).tiny))


def jacobian_check(traced: TracedModel, generator: torch.Generator) -> dict:
    """R5: <w, J u> from the product of block Jacobians (forward mode, one block at a time,
    each the sum of its terms' Jacobians) against <w^T J, u> by reverse mode on the whole
    model; ``rel_error`` = |difference| / (||w|| ||J u||)."""
    x0 = traced.x0
    u = torch.randn(x0.shape, generator=generator, dtype=x0.dtype).to(x0.device)
    x, tangent = x0, u
    for piece in tqdm(traced.chain, desc="R5 block Jacobians", disable=len(traced.blocks) < 32):
        names = [piece.end.name] if piece.kind == "plain" else [t.node.name for t in piece.terms]

        def outputs(z, piece=piece, names=names):
            env = run_piece(piece, z, traced.actual)
            return tuple(env[n] for n in names)

        values, tangents = torch.func.jvp(outputs, (x,), (tangent,))
        x, tangent = sum(values), sum(tangents)
    w = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
    _, pullback = torch.func.vjp(lambda z: run_chain(traced, z), x0)
    (cotangent,) = pullback(w)
    forward = float((w * tangent).sum().detach())
    reverse = float((cotangent * u).sum().detach())
    scale = float((w.norm() * tangent.norm()).detach())
    return {"forward": forward, "reverse": reverse,
            "rel_error": abs(forward - reverse) / max(scale, 1e-300)}


def _norm(x: torch.Tensor) -> float:
    """Root mean square over the first dimension of the per-row norm ||x[b]||."""
    return float(x.flatten(1).pow(2).sum(1).mean().sqrt()) if x.dim() > 1 else float(x.norm())


def signal_profile(traced: TracedModel) -> dict:
    """Stream norms ||x_i|| (i = 0..n), effective lam_i, and the energy ratios against S2."""
    lams, ratios, skips = [], [], []
    for piece in traced.blocks:
        skip = traced.actual[piece.skip.node.name]
        branch = sum(traced.actual[t.node.name] for t in piece.branches)
        start = traced.actual[piece.start.name]
        lams.append(float(branch.norm() / start.norm().clamp_min(1e-300)))
        skips.append(float(branch.norm() / skip.norm().clamp_min(1e-300)))
        ratios.append(float((skip + branch).pow(2).sum() / skip.pow(2).sum().clamp_min(1e-300)))
    log_measured = sum(math.log(r) for r in ratios)
    log_orthogonal = sum(math.log1p(q * q) for q in skips)
    log_aligned = sum(2 * math.log1p(q) for q in skips)
    n = len(lams)
    rms = math.sqrt(sum(q * q for q in lams) / n)
    return {
        "stream_norms": [_norm(x) for x in traced.stream_points()],
        "effective_lam": lams, "branch_to_skip": skips, "energy_ratios": ratios,
        "log_measured": log_measured, "log_orthogonal": log_orthogonal,
        "log_aligned": log_aligned, "rms_lam": rms, "regime": s4_regime(rms, n),
    }


def s4_regime(rms_lam: float, n: int) -> dict:
    """Where lam = rms effective lam places n blocks among S4's regimes: the exponent beta_eff
    with lam = n^(-beta_eff), the predicted growth prod (1 + lam^2) ~ exp(n lam^2), and the
    regime (beta < 1/2 growth, beta = 1/2 critical, beta > 1/2 collapse to the identity),
    judged by n lam^2 (the mean path length n p for small lam) against 1."""
    beta = -math.log(rms_lam) / math.log(n) if n > 1 and rms_lam > 0 else float("nan")
    load = n * rms_lam**2
    regime = "critical (beta ~ 1/2)" if 0.25 <= load <= 4 else (
        "growth (beta < 1/2)" if load > 4 else "collapse toward the identity (beta > 1/2)")
    return {"beta_eff": beta, "n_lam2": load, "regime": regime}


def d1_insertion(traced: TracedModel, generator: torch.Generator) -> dict | None:
    """D1: insert after each post-LN block a block LN'(h + V relu(U h)) with V = 0 and a fresh
    LayerNorm LN' (weight 1, bias 0, the model's eps); the output's relative change, and the
    displacement ||LN'(h) - h|| / ||h|| the insertion makes. None without post-LN blocks."""
    rows = []
    gates = traced.gates()
    for i, gate in enumerate(gates):
        if "layer_norm" not in gate:
            continue
        ln = _gate_layer_norm(traced, i)
        shape, eps = list(ln.args[1]), float(ln.args[4]) if len(ln.args) > 4 else 1e-5
        h = traced.actual[ln.name]
        d = math.prod(shape)
        u = torch.randn(d, d, generator=generator, dtype=h.dtype).to(h.device) / math.sqrt(d)
        v = torch.zeros(d, d, dtype=h.dtype, device=h.device)

        def new_block(z, shape=shape, eps=eps, u=u, v=v):
            flat = z.reshape(*z.shape[:z.dim() - len(shape)], -1)
            inner = flat + F.relu(flat @ u.T) @ v.T
            return F.layer_norm(inner.reshape(z.shape), shape, eps=eps)

        with torch.no_grad():
            out = run_chain(traced, insert=(i, new_block))
            weight, bias = (ln.args[2], ln.args[3]) if len(ln.args) > 3 else (None, None)
            rows.append({"after_block": i + 1, "rel_change": _rel(out, traced.output),
                         "displacement": _rel(new_block(h), h), "eps": eps,
                         "weight_spread": _spread(traced, weight),
                         "bias_rms": _rms(traced, bias)})
    return {"positions": rows} if rows else None


def _gate_layer_norm(traced: TracedModel, i: int):
    positions = traced.structure.block_positions()
    pieces = traced.structure.pieces
    q = positions[i] + 1
    while "layer_norm" not in pieces[q].op:
        q += 1
    return pieces[q].end


def _value(traced, arg):
    return traced.actual.get(arg.name) if hasattr(arg, "name") else arg


def _spread(traced, weight) -> float:
    value = _value(traced, weight)
    return 0.0 if value is None else float((value - 1).pow(2).mean().sqrt())


def _rms(traced, bias) -> float:
    value = _value(traced, bias)
    return 0.0 if value is None else float(value.pow(2).mean().sqrt())


def reweighted(traced: TracedModel, model) -> TracedModel:
    """``traced`` with the parameters and buffers of ``model`` (the same architecture, other
    weights: the model at initialisation) put into its graph and the graph run again: one
    forward pass, no new trace. Raises ``KeyError`` when ``model`` lacks one of them."""
    from dataclasses import replace

    from numerics.real.tracing import run_graph

    state = {**dict(model.named_parameters(remove_duplicate=False)),
             **dict(model.named_buffers(remove_duplicate=False))}
    captured = traced.captured
    constants = dict(captured.constants)
    for node, target in captured.targets.items():
        old = constants[node]
        constants[node] = state[target].detach().to(dtype=old.dtype, device=old.device)
    moved = replace(captured, constants=constants)
    with torch.no_grad():
        actual = run_graph(moved)
    output = actual[next(n for n in moved.graph.nodes if n.op == "output").name]
    return replace(traced, captured=moved, actual=actual, output=output)


def reinitialised(model, seed: int):
    """A copy of ``model`` with every submodule's ``reset_parameters`` run under ``seed`` (its
    weights at initialisation, for the signal profile at init); the model itself is untouched.

    The copy's parameters start as fresh zero tensors, not copies of the given values (a 135M
    float64 model would copy a gigabyte only to overwrite it): ``reset_parameters`` fills them,
    and a parameter no reset wrote (its version counter unchanged: an RMSNorm scale, say)
    takes the given values, as a full copy would have kept them. Buffers are copied."""
    import copy

    memo = {id(p): torch.nn.Parameter(torch.zeros_like(p), requires_grad=p.requires_grad)
            for p in model.parameters()}  # tied weights: one parameter, one fresh tensor
    fresh = copy.deepcopy(model, memo)
    given = {id(memo[id(p)]): p for p in model.parameters()}
    versions = {id(q): q._version for q in fresh.parameters()}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for module in fresh.modules():
            reset = getattr(module, "reset_parameters", None)
            if callable(reset):
                reset()
    with torch.no_grad():
        for q in fresh.parameters():
            if q._version == versions[id(q)]:
                q.copy_(given[id(q)])
    return fresh
