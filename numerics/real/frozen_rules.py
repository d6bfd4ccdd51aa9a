"""Frozen-gate rules: each ATen operation as a map linear in augmented coordinates (R2, real nets).

A value that depends on the piece's input is a :class:`Lin`: a function of the augmented
input (v, t), linear in (v, t), that equals the actual value at (v, t) = (x, 1). Every other
value is a constant (its actual value). :func:`frozen_node` computes one node:

- **affine** operations in their linear arguments (views, sums, concatenation, Linear, Conv,
  BatchNorm in eval mode, padding, masked fills): A(v) + (t - 1) A(0), which is A(x) at t = 1
  and keeps the offset A(0) (biases, shifts, constants added) on the augmented coordinate;
- **products** (mul, matmul, bmm, einsum, div, addcmul, baddbmm, addmm, addmv, addr, outer,
  tensordot): with two linear operands, the one that crossed more gates is frozen at its actual
  value (ties: the right one; a divisor, addcdiv's divisor and lerp's weight always): in
  x * sigmoid(x), GELU written out, GLU gates and attention's A @ V the gate is the one frozen;
- **activations** phi with phi(0) finite: phi(z) = phi(0) t + g z with the secant slope
  g = (phi(z*) - phi(0)) / z* frozen at the actual z*: the ReLU mask, GELU's Phi(z*) (the
  convention z Phi(z) with Phi frozen; tanh-GELU likewise), SiLU's sigmoid(z*);
- **normalisations**: LayerNorm/RMSNorm/GroupNorm with 1/sigma frozen at the actual input
  (the centring stays linear), w (v - mean v) / sigma* + t b;
- **max-pooling** and amax: the actual argmax frozen, a linear selection;
- **attention** (scaled_dot_product_attention): the softmax pattern A* frozen, A* V;
- **gate statistics** (softmax, rsqrt, var, comparisons, ...): constants at their actual value.

At (x, 1) each rule gives the actual value, so a piece's frozen map reproduces the forward
pass exactly (up to rounding); any operation without a rule on a linear value is an error
naming it and the user's line.
"""

import math

import torch
from torch import fx

from numerics.real.tracing import functional, user_location

__all__ = ["Lin", "frozen_node"]


class Lin:
    """A value linear in the augmented input; ``name`` is its node (for its actual value)."""

    __slots__ = ("x", "depth", "name")

    def __init__(self, x, depth: int, name: str):
        self.x, self.depth, self.name = x, depth, name


PURE_LINEAR = {
    "view", "reshape", "_unsafe_view", "permute", "transpose", "t", "expand", "expand_as",
    "slice", "select", "unsqueeze", "squeeze", "contiguous", "clone", "flatten", "unflatten",
    "neg", "mean", "sum", "alias", "detach", "to", "_to_copy", "type_as", "avg_pool1d",
    "avg_pool2d", "avg_pool3d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
    "adaptive_avg_pool3d", "_adaptive_avg_pool2d", "repeat", "roll", "flip", "narrow", "split",
    "split_with_sizes", "chunk", "unbind", "index_select", "gather", "index", "diagonal",
    "tril", "triu", "upsample_nearest1d", "upsample_nearest2d", "upsample_bilinear2d",
    "pixel_shuffle", "pixel_unshuffle", "view_as", "movedim", "swapaxes", "cumsum", "dropout",
    "view_copy", "permute_copy", "expand_copy", "squeeze_copy", "unsqueeze_copy",
    "transpose_copy", "slice_copy", "select_copy", "lift_fresh_copy", "repeat_interleave",
    "_unsafe_index", "mul", "div", "matmul", "mm", "bmm", "einsum", "linear_nobias",
    "im2col", "col2im", "unfold", "channel_shuffle", "true_divide", "mv", "dot", "vdot",
    "outer", "tensordot", "view_as_complex", "view_as_real", "as_strided", "unsqueeze_copy",
    "_reshape_alias", "ravel", "squeeze_", "unsqueeze_", "t_copy", "multiply", "divide",
}
AFFINE = {"add", "sub", "rsub", "cat", "stack", "where", "masked_fill", "linear", "conv1d",
          "conv2d", "conv3d", "convolution", "conv_transpose1d", "conv_transpose2d", "addmm",
          "baddbmm", "constant_pad_nd", "pad", "batch_norm", "_native_batch_norm_legit_no_training",
          "fill", "copy", "addcmul", "addcdiv", "lerp", "addbmm", "addmv", "addr", "index_put",
          "index_add", "index_copy", "scatter", "scatter_add", "select_scatter", "slice_scatter",
          "diagonal_scatter", "masked_scatter", "subtract"}
PRODUCTS = {"mul": (0, 1), "matmul": (0, 1), "mm": (0, 1), "bmm": (0, 1), "linear": (0, 1),
            "conv1d": (0, 1), "conv2d": (0, 1), "conv3d": (0, 1), "convolution": (0, 1),
            "addmm": (1, 2), "baddbmm": (1, 2), "addbmm": (1, 2), "addmv": (1, 2),
            "addr": (1, 2), "addcmul": (1, 2), "mv": (0, 1), "dot": (0, 1), "vdot": (0, 1),
            "outer": (0, 1), "tensordot": (0, 1), "multiply": (0, 1),
            "true_divide": (0,), "div": (0,), "divide": (0,), "addcdiv": (1,), "lerp": (0, 1)}
FROZEN_ARGS = {"div": 1, "true_divide": 1, "divide": 1, "addcdiv": 2, "lerp": 2}
"""Arguments frozen at their actual value whenever linear: divisors, lerp's weight."""
SECANT = {"relu", "leaky_relu", "gelu", "silu", "sigmoid", "tanh", "hardtanh", "elu", "selu",
          "celu", "softplus", "mish", "hardswish", "hardsigmoid", "abs", "exp", "erf", "sin",
          "pow", "clamp", "clamp_min", "clamp_max", "relu6", "square", "prelu", "expm1",
          "log1p", "log_sigmoid", "threshold"}
GATES = {"softmax", "_softmax", "log_softmax", "_log_softmax", "rsqrt", "sqrt", "reciprocal",
         "log", "var", "var_mean", "std", "std_mean", "norm", "linalg_vector_norm", "logsumexp",
         "gt", "lt", "ge", "le", "eq", "ne", "sign", "floor", "ceil", "round", "argmax",
         "argmin", "isnan", "isinf", "logical_not", "logical_and", "logical_or", "bitwise_not",
         "any", "all", "sort", "topk", "_assert_tensor_metadata", "item", "sym_size",
         "zeros_like", "ones_like", "full_like", "empty_like", "new_zeros", "new_ones",
         "new_full", "new_empty", "scalar_tensor", "_local_scalar_dense", "argsort"}
NORMS = {"layer_norm", "native_layer_norm", "rms_norm", "group_norm", "native_group_norm"}
SELECTIONS = {"max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices",
              "max_pool2d_with_indices", "max_pool3d_with_indices", "amax", "amin", "max", "min"}
ATTENTION = {"scaled_dot_product_attention"}
SHAPE_ONLY = {"expand_as", "view_as", "type_as", "reshape_as"}


def base_name(node: fx.Node) -> str:
    """``relu`` for aten.relu.default and for the in-place aten.relu_.default."""
    target = functional(node)
    name = target if isinstance(target, str) else getattr(target, "__name__", str(target))
    return name.split(".")[0]


def _where(node: fx.Node) -> str:
    location = user_location(node.meta.get("stack_trace"))
    stack = node.meta.get("nn_module_stack") or {}
    module = list(stack.values())[-1][0].removeprefix("model.") if stack else ""
    parts = [p for p in (f"module {module}" if module else "", location) if p]
    return " at " + ", ".join(parts) if parts else ""


def unfollowable(node: fx.Node, why: str) -> ValueError:
    return ValueError(f"cannot follow {node.target}{_where(node)}: {why}")


def _lins(value) -> list:
    if isinstance(value, Lin):
        return [value]
    if isinstance(value, tuple | list):
        return [v for item in value for v in _lins(item)]
    return []


def _substitute(value, fn):
    if isinstance(value, Lin):
        return fn(value)
    if isinstance(value, tuple):
        return tuple(_substitute(v, fn) for v in value)
    if isinstance(value, list):
        return [_substitute(v, fn) for v in value]
    return value


def frozen_node(node: fx.Node, args, kwargs, actual: dict, t, cache: dict):
    """The frozen value of ``node`` given its (possibly :class:`Lin`) arguments."""
    lins = _lins((args, kwargs))
    if not lins:
        return actual[node.name]
    name = base_name(node)
    if name == "getitem":
        item = args[0][args[1]]
        return Lin(item.x, item.depth, node.name) if isinstance(item, Lin) else item
    if name in GATES:
        return actual[node.name]
    if name in SHAPE_ONLY and len(args) > 1:  # the second argument lends its shape only
        if not isinstance(args[0], Lin):
            return actual[node.name]
        args = (args[0], actual_of(args[1], actual) if isinstance(args[1], Lin) else args[1],
                *args[2:])
        lins = _lins((args, kwargs))
    depth = max(v.depth for v in lins)
    if name in SECANT:
        return _secant(node, name, args, actual, t, cache, depth)
    if name in NORMS:
        return _norm(node, name, args, actual, t, depth)
    if name in SELECTIONS:
        return _selection(node, name, args, actual, depth)
    if name in ATTENTION:
        return _attention(node, args, kwargs, actual, cache, depth)
    if name in PRODUCTS or name == "einsum":
        args, kwargs, depth = _freeze_extra_factors(node, name, args, kwargs, actual)
        lins = _lins((args, kwargs))
        if not lins:
            return actual[node.name]
    if name == "dropout" and len(args) > 2 and args[2]:
        raise unfollowable(node, "dropout is active; call model.eval() first")
    if name in ("batch_norm",) and args[5]:
        raise unfollowable(node, "BatchNorm in training mode; call model.eval() first")
    if name not in PURE_LINEAR and name not in AFFINE:
        raise unfollowable(node, "no frozen-gate rule for this operation on the residual stream")
    out = functional(node)(*_substitute(args, lambda v: v.x), **_substitute(kwargs, lambda v: v.x))
    if name not in PURE_LINEAR:
        offset = _offset(node, args, kwargs, actual, cache)
        out = _add_offset(out, offset, t)
    return _wrap(out, depth, node.name)


def _wrap(out, depth: int, name: str):
    if isinstance(out, tuple | list):
        return type(out)(Lin(o, depth, name) if isinstance(o, torch.Tensor) else o for o in out)
    return Lin(out, depth, name)


def _offset(node, args, kwargs, actual, cache):
    """A(0): the operation with every linear argument replaced by zeros (its constant part)."""
    if node.name not in cache:
        zero = _substitute((args, kwargs), lambda v: torch.zeros_like(actual_of(v, actual)))
        value = functional(node)(*zero[0], **zero[1])
        zero_offset = isinstance(value, torch.Tensor) and not bool(value.ne(0).any())
        cache[node.name] = None if zero_offset else value  # no constant part: nothing to add
    return cache[node.name]


def actual_of(value: Lin, actual: dict):
    """The actual value of a linear value's node (a tuple's element by position if needed)."""
    found = actual[value.name]
    if isinstance(found, tuple | list):
        matches = [f for f in found if isinstance(f, torch.Tensor) and f.shape == value.x.shape]
        return matches[0]
    return found


def _add_offset(out, offset, t):
    if offset is None:
        return out
    if isinstance(out, tuple | list):
        return type(out)([_add_offset(o, f, t) if i == 0 else o
                          for i, (o, f) in enumerate(zip(out, offset))])
    return out + (t - 1) * offset


def _freeze_extra_factors(node, name, args, kwargs, actual):
    """Freeze all linear factors of a product but the one that crossed fewest gates."""
    if name == "einsum":
        operands = list(args[1])
        lin = [i for i, a in enumerate(operands) if isinstance(a, Lin)]
        keep = min(lin, key=lambda i: (operands[i].depth, i))
        operands = [a if i == keep or not isinstance(a, Lin) else actual_of(a, actual)
                    for i, a in enumerate(operands)]
        return (args[0], operands), kwargs, operands[keep].depth
    args = list(args)
    positions = PRODUCTS[name]
    frozen = FROZEN_ARGS.get(name)
    if frozen is not None and len(args) > frozen and isinstance(args[frozen], Lin):
        args[frozen] = actual_of(args[frozen], actual)
    lin = [i for i in positions if i < len(args) and isinstance(args[i], Lin)]
    if name in ("lerp", "addcdiv"):  # affine in both remaining arguments: nothing to freeze
        return tuple(args), kwargs, max((args[i].depth for i in lin), default=0)
    if not lin:
        return tuple(args), kwargs, 0
    keep = min(lin, key=lambda i: (args[i].depth, i))
    for i in lin:
        if i != keep:
            args[i] = actual_of(args[i], actual)
    return tuple(args), kwargs, args[keep].depth


def _secant(node, name, args, actual, t, cache, depth):
    """phi(z) = phi(0) t + g z with g frozen: ReLU's mask, GELU's Phi, SiLU's sigmoid."""
    z = args[0]
    if not isinstance(z, Lin) or len(_lins(args[1:])) > 0:
        raise unfollowable(node, "an activation whose parameters depend on the input")
    zs = actual_of(z, actual)
    if node.name not in cache:
        phi = actual[node.name]
        if name == "relu":
            slope, phi0 = (zs > 0).to(zs.dtype), None
        elif name == "gelu" and len(args) < 2 and not node.kwargs.get("approximate"):
            slope, phi0 = 0.5 * (1 + torch.erf(zs / math.sqrt(2.0))), None
        elif name == "silu":
            slope, phi0 = torch.sigmoid(zs), None
        else:
            phi0 = functional(node)(torch.zeros_like(zs), *args[1:], **node.kwargs)
            nonzero = zs != 0
            slope = torch.where(nonzero, (phi - phi0) / torch.where(nonzero, zs, 1), 0)
            phi0 = phi0 if bool(phi0.ne(0).any()) else None
        cache[node.name] = (slope, phi0)
    slope, phi0 = cache[node.name]
    out = slope * z.x
    if phi0 is not None:
        out = out + t * phi0
    return Lin(out, depth + 1, node.name)


def _norm(node, name, args, actual, t, depth):
    """LayerNorm / RMSNorm / GroupNorm with 1/sigma frozen at the actual input."""
    z = args[0]
    if not isinstance(z, Lin) or len(_lins(args[1:])) > 0:
        raise unfollowable(node, "a normalisation whose weights depend on the input")
    zs = actual_of(z, actual)
    if name in ("group_norm", "native_group_norm"):
        return _group_norm(node, name, args, zs, t, depth, actual)
    shape = args[1]
    dims = tuple(range(-len(shape), 0))
    weight = args[2] if len(args) > 2 else None
    if name == "rms_norm":
        eps = args[3] if len(args) > 3 and args[3] is not None else torch.finfo(zs.dtype).eps
        scale = torch.rsqrt(zs.pow(2).mean(dims, keepdim=True) + eps)
        out, bias = z.x * scale, None
    else:
        bias, eps = (args[3] if len(args) > 3 else None), args[4] if len(args) > 4 else 1e-5
        scale = torch.rsqrt(zs.var(dims, unbiased=False, keepdim=True) + eps)
        out = (z.x - z.x.mean(dims, keepdim=True)) * scale
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + t * bias
    result = Lin(out, depth + 1, node.name)
    if name == "native_layer_norm":
        return (result, actual[node.name][1], actual[node.name][2])
    return result


def _group_norm(node, name, args, zs, t, depth, actual):
    z = args[0]
    if name == "native_group_norm":
        weight, bias, groups, eps = args[1], args[2], args[6], args[7]
    else:
        groups, weight, bias, eps = args[1], args[2], args[3], args[4]
    n, c = zs.shape[0], zs.shape[1]
    grouped = zs.reshape(n, groups, -1)
    scale = torch.rsqrt(grouped.var(-1, unbiased=False, keepdim=True) + eps)
    v = z.x.reshape(n, groups, -1)
    out = ((v - v.mean(-1, keepdim=True)) * scale).reshape(zs.shape)
    view = (1, c) + (1,) * (zs.dim() - 2)
    if weight is not None:
        out = out * weight.reshape(view)
    if bias is not None:
        out = out + t * bias.reshape(view)
    result = Lin(out, depth + 1, node.name)
    return (result, *actual[node.name][1:]) if name == "native_group_norm" else result


def _selection(node, name, args, actual, depth):
    """Max-pooling and amax/max with the actual argmax frozen: a linear selection."""
    z = args[0]
    zs = actual_of(z, actual)
    if name.startswith("max_pool"):
        spatial = int(name[8])
        pool = getattr(torch.ops.aten, f"max_pool{spatial}d_with_indices")
        _, idx = pool(zs, *args[1:])
        out = z.x.flatten(-spatial).gather(-1, idx.flatten(-spatial)).reshape(idx.shape)
        result = Lin(out, depth + 1, node.name)
        return (result, idx) if name.endswith("indices") else result
    dim = args[1] if len(args) > 1 else None
    if isinstance(dim, list | tuple):
        if len(dim) != 1:
            raise unfollowable(node, "a max over several dimensions")
        dim = dim[0]
    if dim is None:
        raise unfollowable(node, "a max over all elements")
    keep = bool(args[2]) if len(args) > 2 else False
    idx = (zs.argmax if name in ("amax", "max") else zs.argmin)(dim, keepdim=True)
    out = z.x.gather(dim, idx)
    result = Lin(out if keep else out.squeeze(dim), depth + 1, node.name)
    if name in ("max", "min"):
        return (result, idx if keep else idx.squeeze(dim))
    return result


def _attention(node, args, kwargs, actual, cache, depth):
    """scaled_dot_product_attention with its softmax pattern frozen: A* @ V."""
    q, k, v = args[:3]
    if not isinstance(v, Lin):
        return actual[node.name]
    get = dict(zip(("attn_mask", "dropout_p", "is_causal", "scale", "enable_gqa"), args[3:]))
    get.update(kwargs)
    if get.get("dropout_p", 0.0):
        raise unfollowable(node, "attention dropout is active; call model.eval() first")
    qs = actual_of(q, actual) if isinstance(q, Lin) else q
    ks = actual_of(k, actual) if isinstance(k, Lin) else k
    if node.name not in cache:
        cache[node.name] = attention_pattern(qs, ks, get.get("attn_mask"), get.get("is_causal"),
                                             get.get("scale"), get.get("enable_gqa"))
    pattern = cache[node.name]
    values = v.x
    if get.get("enable_gqa") and values.shape[-3] != pattern.shape[-3]:
        values = values.repeat_interleave(pattern.shape[-3] // values.shape[-3], -3)
    return Lin(pattern @ values, depth + 1, node.name)


def attention_pattern(q, k, mask=None, causal=False, scale=None, gqa=False):
    """softmax(q k^T * scale + mask) as scaled_dot_product_attention computes it."""
    if gqa and k.shape[-3] != q.shape[-3]:
        k = k.repeat_interleave(q.shape[-3] // k.shape[-3], -3)
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = (q @ k.transpose(-2, -1)) * scale
    if causal:
        keep = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool, device=q.device).tril()
        scores = scores.masked_fill(~keep, float("-inf"))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool \
            else scores + mask
    return torch.softmax(scores, dim=-1)
