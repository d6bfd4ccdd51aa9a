"""Real-model benchmarks (issue 13 item 6, issue 23 item 6): tracing time, and the frozen-gate
spectrum's cost over one forward pass for a ResNet-style CNN and a BERT-style encoder at two
depths, side by side; for a tiny and a 30-layer d = 576 random Llama (float64, 16 tokens),
tracing, the spectrum and each ``resdepth probe`` row in forward passes, and peak memory.
Wall seconds and process CPU seconds are both given: on shared cores the CPU seconds (over the
threads torch uses) say what an idle machine would take.

The spectrum applies block i's frozen pieces to i + 1 stacked vectors (n(n+1)/2 block
applications in all, batched by vmap over the stack), so its ratio to one forward pass grows
about linearly in n; vmap's per-operation overhead is the constant in front of it on small
models. Timings are the best of a few repeats, on whatever device numerics.device chooses.
"""

import time

import torch

from benchmarks.timing import best_time
from numerics.models.zoo import resnet_cnn, tiny_transformer
from numerics.real.frozen import frozen_spectrum, trace_model


def _models(depth: int):
    """(name, model, inputs) of the two families at ``depth`` blocks-per-stage / layers."""
    cases = [("resnet", *resnet_cnn((16,) * depth + (32,), batch=16, side=16))]
    try:
        cases.append(("bert", *tiny_transformer("bert", layers=depth, hidden=64, batch=8,
                                                tokens=16)))
    except ImportError:
        pass
    return cases


def spectrum_over_forward() -> dict:
    """Spectrum time / forward time, and tracing time, at two depths per family."""
    figures = {}
    for depth in (2, 6):
        for name, model, inputs in _models(depth):
            start = time.perf_counter()
            traced = trace_model(model, inputs)
            trace_s = time.perf_counter() - start
            n = len(traced.blocks)

            def forward(model=model, inputs=inputs):
                with torch.no_grad():
                    model(*inputs)

            forward_s = best_time(forward, 5)
            spectrum_s = best_time(lambda traced=traced: frozen_spectrum(traced), 2)
            figures[f"{name}_n{n}"] = {"trace_s": round(trace_s, 3),
                                       "forward_ms": round(1e3 * forward_s, 3),
                                       "spectrum_s": round(spectrum_s, 3),
                                       "spectrum_over_forward": round(spectrum_s / forward_s, 1),
                                       "block_applications": n * (n + 1) // 2}
    return figures


BENCHMARKS = [spectrum_over_forward]


# --- issue 23: the Llama family at depth -------------------------------------------------------

def _llama_size() -> dict:
    """The benchmark Llama's size: 30 layers, d = 576 (135M-scale) unless
    RESDEPTH_BENCH_LLAMA="LAYERS,HIDDEN" says otherwise (a quick check of the benchmark)."""
    import os

    given = os.environ.get("RESDEPTH_BENCH_LLAMA")
    if not given:
        return {}
    layers, hidden = (int(v) for v in given.split(","))
    return {"layers": layers, "hidden": hidden, "intermediate": 8 * hidden // 3,
            "heads": max(1, hidden // 64), "kv_heads": 1}


def llama30():
    """The 135M-scale random Llama (30 layers, d = 576, GQA 9/3 heads, SwiGLU 1536, tied
    embeddings, vocabulary 49152), float64, eval; as ``--model`` for ``resdepth probe``."""
    from numerics.models.tiny_llm import llama_config, tiny_causal_lm

    model, _ = tiny_causal_lm("llama", config=llama_config(**_llama_size()))
    return model.model  # the decoder stack: its last hidden state is decomposed


def llama30_ids():
    """16 token ids (one sequence) for :func:`llama30`."""
    return torch.randint(0, 49152, (1, 16), generator=torch.Generator().manual_seed(1))


def _peak_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _llama_rows(model, inputs, output=None) -> dict:
    """Seconds of tracing, the spectrum and each probe row, over one forward pass (wall, and
    CPU seconds over the forward's CPU seconds: steadier on shared cores)."""
    from graphs.counting import count_paths
    from graphs.trace import dag_from_description
    from numerics.real.probes import jacobian_check, reinitialised, reweighted, signal_profile
    from resdepth.commands.probe import DRAWS, lesion_verdict
    from resdepth.real.models import traced_description

    def forward():
        with torch.no_grad():
            model(*inputs)

    forward_s = best_time(forward, 3)
    forward_cpu = min(_cpu(forward) for _ in range(3))
    stages, cpu = {}, {}

    def timed(name, fn):
        start, start_cpu = time.perf_counter(), time.process_time()
        value = fn()
        stages[name] = time.perf_counter() - start
        cpu[name] = time.process_time() - start_cpu
        return value

    traced = timed("trace", lambda: trace_model(model, inputs, output=output))
    n = len(traced.blocks)
    spectrum = timed("spectrum (R2 sum)", lambda: frozen_spectrum(traced, progress=n >= 32))
    timed("R4 counts", lambda: count_paths(dag_from_description(traced_description(traced))))
    generator = torch.Generator().manual_seed(0)
    r5 = timed("R5 Jacobians", lambda: jacobian_check(traced, generator))
    init = timed("initial weights (reset_parameters: random draws)",
                 lambda: reinitialised(model, 0))
    timed("S2 signal (given and initial weights, same graph)", lambda: (
        signal_profile(traced), signal_profile(reweighted(traced, init))))
    init = None  # free the initial weights (1 GB at 135M float64) before the lesions
    lesion = timed("lesions (sequential, m = 1..4)", lambda: lesion_verdict(
        traced, "llama", seed=0, draws=DRAWS, max_m=4, spectrum=spectrum))
    seeds = []
    for seed in range(1, 5):  # the row's cost is random (the draws it needs): seeds 0..4
        start = time.perf_counter()
        other = lesion_verdict(traced, "llama", seed=seed, draws=DRAWS, max_m=4,
                               spectrum=spectrum)
        seeds.append({"seed": seed, "forwards": round((time.perf_counter() - start)
                                                      / forward_s, 1),
                      "verdict": other.verdict, "sets": other.details["sets_measured"]})
    if n <= 10:
        from numerics.real.frozen import enumerate_frozen_paths

        timed("R2 enumeration", lambda: enumerate_frozen_paths(traced))
    study = lesion.details
    figures = {"blocks": n, "forward_s": round(forward_s, 4),
               "forward_cpu_s": round(forward_cpu, 4),
               "split_error": spectrum.max_rel_error(), "r5_error": r5["rel_error"],
               "spectrum_goal_forwards": round(0.6 * (n + 1), 1),
               "lesion": {"verdict": lesion.verdict, "statistic": lesion.statistic,
                          "statistic_se": study["statistic_se"], "draws": study["draws"],
                          "rounds": study["rounds"], "sets": study["sets_measured"],
                          "block_applications": study["block_applications"],
                          "first_moment_error": study["first_moment"]["abs_error"],
                          "other_seeds": seeds},
               "probe_rows_s": round(sum(stages.values()), 2),
               "probe_rows_cpu_s": round(sum(cpu.values()), 2),
               "peak_rss_mib": round(_peak_mib())}
    for name, seconds in stages.items():
        figures[name] = {"s": round(seconds, 3), "cpu_s": round(cpu[name], 3),
                         "forwards": round(seconds / forward_s, 1),
                         "forwards_cpu": round(cpu[name] / max(forward_cpu, 1e-9), 1)}
    return figures


def _cpu(fn) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def _probe_end_to_end() -> dict:
    """``resdepth probe`` on the benchmark Llama, in a child process: wall and CPU seconds
    (building the model included), its exit code and verdicts."""
    import json
    import os
    import pathlib
    import resource
    import subprocess
    import sys
    import tempfile

    root = pathlib.Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as out:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "resdepth", "probe", "--model",
             "benchmarks.bench_real_models:llama30", "--inputs",
             "benchmarks.bench_real_models:llama30_ids", "--out", out],
            cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True,
            text=True)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        rows = json.loads((pathlib.Path(out) / "results.json").read_text())["rows"] \
            if done.returncode in (0, 1) else []
    return {"exit": done.returncode, "wall_s": round(wall, 1),
            "cpu_s": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime,
                           1), "peak_rss_mib": round(after.ru_maxrss / 1024),
            "verdicts": [f"{r['label']} {r['verdict']}" for r in rows],
            "error": done.stderr.strip().splitlines()[-1:] if done.returncode > 1 else []}


def _table(figures: dict) -> str:
    """The ratio table: each stage in forward passes (wall and CPU), per model."""
    names = [k for k in next(iter(figures.values())) if isinstance(
        next(iter(figures.values()))[k], dict) and "forwards" in next(iter(figures.values()))[k]]
    lines = ["| stage | " + " | ".join(f"{m} (wall / CPU forwards)" for m in figures) + " |",
             "|---" * (len(figures) + 1) + "|"]
    for name in names:
        cells = [f"{f[name]['forwards']} / {f[name]['forwards_cpu']}" if name in f else "-"
                 for f in figures.values()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("| peak RSS MiB | " + " | ".join(str(f["peak_rss_mib"])
                                                   for f in figures.values()) + " |")
    return "\n".join(lines)


def llama_rows_over_forward() -> dict:
    """Tiny Llama (2 layers, d = 16) and the 30-layer d = 576 one, float64, 16 tokens: tracing,
    spectrum and each probe row in forward passes, side by side in one run; peak RSS; then
    ``resdepth probe`` end to end on the 30-layer one. Prints the ratio table."""
    from numerics.models.tiny_llm import tiny_causal_lm

    torch.set_num_threads(max(1, torch.get_num_threads()))
    tiny, inputs = tiny_causal_lm("llama", batch=1, tokens=16)
    figures = {"tiny_llama_n4": _llama_rows(tiny.model, inputs)}
    big = llama30()
    figures[f"llama_n{2 * big.config.num_hidden_layers}_d{big.config.hidden_size}"] = \
        _llama_rows(big, (llama30_ids(),))
    del big
    print(_table(figures), flush=True)
    figures["probe_end_to_end"] = _probe_end_to_end()
    return figures


BENCHMARKS.append(llama_rows_over_forward)
