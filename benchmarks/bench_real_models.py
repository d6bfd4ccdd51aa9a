"""Real-model benchmarks (issue 13 item 6): tracing time, and the frozen-gate spectrum's cost over
one forward pass for a ResNet-style CNN and a BERT-style encoder at two depths, side by side.

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
