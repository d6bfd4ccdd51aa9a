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

def llama30():
    """The 135M-scale random Llama (30 layers, d = 576, GQA 9/3 heads, SwiGLU 1536, tied
    embeddings, vocabulary 49152), float64, eval; as ``--model`` for ``resdepth probe``."""
    from numerics.models.tiny_llm import llama_config, tiny_causal_lm

    model, _ = tiny_causal_lm("llama", config=llama_config())
    return model.model  # the decoder stack: its last hidden state is decomposed


def llama30_ids():
    """16 token ids (one sequence) for :func:`llama30`."""
    return torch.randint(0, 49152, (1, 16), generator=torch.Generator().manual_seed(1))


def _peak_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _llama_rows(model, inputs, output=None) -> dict:
    """Seconds of tracing, the spectrum and each probe row, over one forward pass."""
    from graphs.counting import count_paths
    from graphs.trace import dag_from_description
    from numerics.real.probes import (
        jacobian_check,
        lesion_study,
        reinitialised,
        reweighted,
        signal_profile,
    )
    from resdepth.real.models import traced_description

    def forward():
        with torch.no_grad():
            model(*inputs)

    forward_s = best_time(forward, 3)
    start_cpu = time.process_time()
    forward()
    forward_cpu = time.process_time() - start_cpu
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
    timed("S2 signal (with init)", lambda: (signal_profile(traced), signal_profile(
        reweighted(traced, reinitialised(model, 0)))))
    timed("lesions (4 m x 8 draws + n singles)",
          lambda: lesion_study(traced, [1, 2, 3, 4], 8, generator, spectrum))
    if n <= 10:
        from numerics.real.frozen import enumerate_frozen_paths

        timed("R2 enumeration", lambda: enumerate_frozen_paths(traced))
    figures = {"blocks": n, "forward_s": round(forward_s, 4),
               "forward_cpu_s": round(forward_cpu, 4),
               "split_error": spectrum.max_rel_error(), "r5_error": r5["rel_error"],
               "spectrum_goal_forwards": round(0.6 * (n + 1), 1),
               "probe_total_s": round(sum(v for k, v in stages.items() if k != "trace") +
                                      stages["trace"], 2),
               "peak_rss_mib": round(_peak_mib())}
    figures["probe_total_cpu_s"] = round(sum(cpu.values()), 2)
    for name, seconds in stages.items():
        figures[name] = {"s": round(seconds, 3), "cpu_s": round(cpu[name], 3),
                         "forwards": round(seconds / forward_s, 1)}
    return figures


def llama_rows_over_forward() -> dict:
    """Tiny Llama (2 layers, d = 16) and the 30-layer d = 576 one, float64, 16 tokens: tracing,
    spectrum and each probe row in forward passes, side by side in one run; peak RSS."""
    from numerics.models.tiny_llm import tiny_causal_lm

    torch.set_num_threads(max(1, torch.get_num_threads()))
    tiny, inputs = tiny_causal_lm("llama", batch=1, tokens=16)
    figures = {"tiny_llama_n4": _llama_rows(tiny.model, inputs)}
    figures["llama30_d576_n60"] = _llama_rows(llama30(), (llama30_ids(),))
    return figures


BENCHMARKS.append(llama_rows_over_forward)
