"""Next-token logits by path length: direct logit attribution split exactly by depth (R2).

For a causal language model traced with its logits as the decomposed output, the frozen-gate
spectrum carries each stream term y_k through the frozen final norm (its 1/rms or 1/sigma at
the actual stream) and the unembedding: logits = sum_k L_k exactly, L_k the logits of the
paths through k branches (the head's bias, if any, rides with the augmented coordinate into
L_0). :func:`logit_split` reads, per position t, the top-k predicted tokens v (by the actual
logits) and their per-length logits L_k[t, v], the logit difference of the top two,
d_k = L_k[t, v1] - L_k[t, v2] (what decides the prediction), the exact-sum error
max_t |sum_k L_k[t, v] - logit[t, v]| / max |logit[t]|, and the mean path length of the
difference, sum_k k d_k / sum_k d_k (signed; d = sum_k d_k > 0 by the choice of v1, v2;
over positions, with d_k summed over them, so that each position weighs by its margin), next
to the signed mean path length of the stream itself.
"""

import torch

__all__ = ["logit_split"]


def _mean_length(parts: torch.Tensor) -> float:
    """sum_k k p_k / sum_k p_k of a signed split p_0..p_n of a positive total."""
    ks = torch.arange(parts.shape[0], dtype=parts.dtype, device=parts.device)
    total = parts.sum()
    return float((ks * parts).sum() / total) if float(total) != 0 else float("nan")


def logit_split(spectrum, stream=None, *, top_k: int = 3) -> dict:
    """The logits of ``spectrum`` (terms of shape (n + 1, B, T, V)) split by path length.

    ``stream`` is the stream's own spectrum (for the comparison). Returns plain data: per
    sequence b and position t, ``tokens`` (top-k ids), ``logits`` (actual), ``by_length``
    (top_k lists of n + 1 per-length logits), ``diff_by_length`` (d_0..d_n), and the means.
    """
    terms, out = spectrum.terms, spectrum.output
    if out.dim() != 3 or terms.dim() != 4:
        raise ValueError("--output logits expects logits of shape (batch, tokens, vocabulary), "
                         f"got {tuple(out.shape)}")
    vocab = out.shape[-1]
    k = max(1, min(top_k, vocab))
    values, tokens = out.topk(max(k, 2) if vocab > 1 else 1, dim=-1)
    gathered = terms.gather(-1, tokens.unsqueeze(0).expand(terms.shape[0], *tokens.shape))
    scale = out.abs().amax(-1).clamp_min(torch.finfo(out.dtype).tiny)
    error = float(((gathered.sum(0) - values).abs().amax(-1) / scale).max())
    full_error = float(((terms.sum(0) - out).abs().amax(-1) / scale).max())
    positions, diff_means, top_means = [], [], []
    for b in range(out.shape[0]):
        for t in range(out.shape[1]):
            row = gathered[:, b, t]  # (n + 1, top)
            entry = {"sequence": b, "position": t, "tokens": tokens[b, t, :k].tolist(),
                     "logits": values[b, t, :k].tolist(),
                     "by_length": row[:, :k].T.tolist()}
            if vocab > 1:
                diff = row[:, 0] - row[:, 1]
                entry["diff"] = float(values[b, t, 0] - values[b, t, 1])
                entry["diff_by_length"] = diff.tolist()
                entry["diff_mean_length"] = _mean_length(diff)
                diff_means.append(entry["diff_mean_length"])
            entry["top1_mean_length"] = _mean_length(row[:, 0])
            top_means.append(entry["top1_mean_length"])
            positions.append(entry)
    diffs = [p["diff_by_length"] for p in positions if "diff_by_length" in p]
    mean_diff = torch.tensor(diffs, dtype=torch.float64).mean(0) if diffs else None
    result = {
        "top_k": k, "depth": terms.shape[0] - 1, "positions": positions,
        "max_rel_error_top": error, "max_rel_error_all": full_error,
        "logits_signed_shares": spectrum.signed_shares(),
        "logits_mean_path_length": spectrum.mean_length(),
        "diff_mean_path_length": _mean_length(mean_diff) if mean_diff is not None else
        float("nan"),
        "diff_mean_path_length_per_position": _finite_mean(diff_means),
        "top1_mean_path_length": _finite_mean(top_means),
        "mean_diff_by_length": mean_diff.tolist() if mean_diff is not None else None,
    }
    if stream is not None:
        result["stream_signed_shares"] = stream.signed_shares()
        result["stream_mean_path_length"] = stream.mean_length()
        result["stream_max_rel_error"] = stream.max_rel_error()
    return result


def _finite_mean(values: list[float]) -> float:
    """The mean of the finite values (a position whose top two tie has no diff length)."""
    kept = [v for v in values if v == v and abs(v) != float("inf")]
    return sum(kept) / len(kept) if kept else float("nan")
