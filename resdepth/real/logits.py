"""``resdepth spectrum --output logits``: a causal LM's next-token logits by path length (R2).

Builds the payload section, its Markdown and its figure from
:func:`numerics.real.logits.logit_split`: per position the top-k tokens' logits split by path
length, the logit difference of the top two by path length (what decides the prediction), the
exact-sum check, and the mean path length of that difference against the stream's own.
"""

from resdepth.engine.errors import ResdepthError

__all__ = ["check_causal", "logits_markdown", "logits_payload", "plot_logits"]


def check_causal(model) -> None:
    """One line unless ``model`` is a transformers causal language model."""
    from resdepth.real.checkpoints import is_causal_lm

    if not is_causal_lm(model):
        raise ResdepthError(f"--output logits splits a causal language model's next-token "
                            f"logits; {type(model).__name__} is not one (a transformers "
                            "*ForCausalLM); name another output with --output NAME")


def logits_payload(traced, top_k: int, tokenizer=None) -> tuple[dict, object]:
    """(the ``logits`` section, the output spectrum) of a traced causal LM."""
    from numerics.real.frozen import frozen_spectra
    from numerics.real.logits import logit_split

    stream, spectrum = frozen_spectra(traced, progress=len(traced.blocks) >= 32)
    try:
        section = logit_split(spectrum, stream, top_k=top_k)
    except ValueError as exc:
        raise ResdepthError(str(exc)) from None
    if tokenizer is not None:
        for entry in section["positions"]:
            entry["token_text"] = [tokenizer(i) for i in entry["tokens"]]
    return section, spectrum


def logits_markdown(section: dict) -> str:
    """The last position of each sequence (the next-token prediction) and the comparison."""
    lines = ["", "## Next-token logits by path length", "",
             f"exact sum over lengths: max |sum_k L_k - logit| / max |logit| = "
             f"{section['max_rel_error_top']:.3e} (top-{section['top_k']} tokens), "
             f"{section['max_rel_error_all']:.3e} (all tokens)",
             f"mean path length: logit difference of the top two "
             f"{section['diff_mean_path_length']:.4g}; logits (signed) "
             f"{section['logits_mean_path_length']:.4g}; stream (signed) "
             f"{section.get('stream_mean_path_length', float('nan')):.4g}", ""]
    n = section["depth"]
    header = "| sequence, position | token | logit | " + " | ".join(
        f"L_{k}" for k in range(n + 1)) + " |"
    lines += [header, "|" + "---|" * (n + 4)]
    last = {}
    for entry in section["positions"]:
        last[entry["sequence"]] = entry
    for entry in last.values():
        names = entry.get("token_text") or [str(t) for t in entry["tokens"]]
        for name, logit, parts in zip(names, entry["logits"], entry["by_length"]):
            lines.append(f"| {entry['sequence']}, {entry['position']} | {name!r} | "
                         f"{logit:.4g} | " + " | ".join(f"{p:.3g}" for p in parts) + " |")
        if "diff_by_length" in entry:
            lines.append(f"| {entry['sequence']}, {entry['position']} | top1 - top2 | "
                         f"{entry['diff']:.4g} | " + " | ".join(
                             f"{p:.3g}" for p in entry["diff_by_length"]) + " |")
    return "\n".join(lines) + "\n"


def plot_logits(section: dict, path, title: str) -> None:
    """Left: the top-two logit difference d_k by path length at every position (heat map,
    d_k / sum_j |d_j|, labelled by the predicted token). Right: the mean share by length of the difference, the logits
    and the stream (signed shares)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rows = [p for p in section["positions"] if "diff_by_length" in p]
    n = section["depth"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    if rows:
        parts = np.array([p["diff_by_length"] for p in rows])
        shares = parts / np.maximum(np.abs(parts).sum(1, keepdims=True), 1e-300)
        image = left.imshow(shares, aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1)
        labels = [f"{p['sequence']}:{p['position']}" + (f" {p['token_text'][0]!r}" if
                                                        p.get("token_text") else "")
                  for p in rows]
        step = max(1, len(rows) // 24)
        left.set_yticks(range(0, len(rows), step), labels[::step], fontsize="x-small")
        fig.colorbar(image, ax=left, label="d_k / sum_j |d_j|")
    left.set_xlabel("path length k")
    left.set_ylabel("sequence:position, predicted token")
    left.set_title("logit difference by path length", fontsize="small")
    ks = np.arange(n + 1)
    if section.get("mean_diff_by_length"):
        diff = np.array(section["mean_diff_by_length"])
        right.bar(ks - 0.25, diff / diff.sum(), width=0.25, label="top1 - top2 logit")
    right.bar(ks, section["logits_signed_shares"], width=0.25, label="logits (signed)")
    if section.get("stream_signed_shares"):
        right.bar(ks + 0.25, section["stream_signed_shares"], width=0.25,
                  label="stream (signed)")
    right.axhline(0, color="black", linewidth=0.5)
    right.set_xlabel("path length k")
    right.set_ylabel("share")
    right.set_title(f"mean length: diff {section['diff_mean_path_length']:.2f}, stream "
                    f"{section.get('stream_mean_path_length', float('nan')):.2f}",
                    fontsize="small")
    right.legend(fontsize="x-small")
    fig.suptitle(title, fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)
