"""What the frozen-gate decomposition froze in a traced model (R2): the gates by kind, and whether
the model normalises (so that S3 rather than S2 describes its signal).

Walks the traced graph's nodes (:class:`numerics.real.tracing.Traced`'s ``chain`` pieces) with
the op names of :mod:`numerics.real.frozen_rules`.
"""

from numerics.real.frozen_rules import ATTENTION, NORMS, SECANT, SELECTIONS, base_name

__all__ = ["frozen_gate_summary", "normalises"]


def normalises(traced) -> bool:
    """Whether the stream or a branch normalises (pre-LN or post-LN: S3 rather than S2)."""
    return any(n.op == "call_function" and base_name(n) in NORMS
               for p in traced.chain for n in p.nodes)


def frozen_gate_summary(traced) -> list[dict]:
    """What was frozen: per gate kind, the convention and how many operations."""
    kinds = {}
    for piece in traced.chain:
        for node in piece.nodes:
            if node.op != "call_function":
                continue
            op = base_name(node)
            if op == "relu":
                key = "relu mask (R2 exactly)"
            elif op == "gelu":
                key = "gelu: Phi(z) frozen in z Phi(z)"
            elif op in SECANT:
                key = f"{op}: secant slope (phi(z) - phi(0))/z frozen"
            elif op in NORMS:
                key = f"{op}: 1/sigma frozen (centring and affine kept)"
            elif op in SELECTIONS:
                key = f"{op}: argmax frozen"
            elif op in ATTENTION:
                key = "attention: softmax pattern frozen"
            elif op in ("batch_norm", "_native_batch_norm_legit_no_training"):
                key = "batch_norm (eval): affine, nothing frozen"
            else:
                continue
            kinds[key] = kinds.get(key, 0) + 1
    return [{"gate": k, "count": v} for k, v in kinds.items()]
