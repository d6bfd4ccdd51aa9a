"""R2/R4 on the Llama family built offline from configs: float64 end to end (rotary tables,
RMSNorm's float32 upcast, softmax(dtype=float32) promoted), splits exact to 1e-12, DP equal to
enumeration, parallel blocks with three terms, frozen gates named by op and module path, and a
planted float32 island detected and named."""

import pytest
import torch
from torch import nn

from numerics.real.frozen import enumerate_frozen_paths, frozen_spectrum, trace_model
from numerics.real.gates import frozen_gate_summary

pytest.importorskip("transformers", reason="the hf extra is not installed")

from numerics.models.tiny_llm import tiny_causal_lm  # noqa: E402

TOL = 1e-12
SHAPES = {"llama": (4, 1), "mistral": (4, 1), "qwen2": (4, 1), "gemma2": (4, 1), "phi": (2, 2),
          "gptj": (2, 2)}


@pytest.fixture(scope="module")
def traced():
    out = {}
    for kind in SHAPES:
        model, inputs = tiny_causal_lm(kind)
        out[kind] = trace_model(model, inputs, output="logits")
    return out


def _dp_vs_enumeration(t) -> float:
    spectrum = frozen_spectrum(t)
    paths, lengths = enumerate_frozen_paths(t)
    summed = torch.zeros_like(spectrum.terms).index_add_(0, lengths, paths)
    return float((summed - spectrum.terms).flatten(1).norm(dim=1).max() / t.output.norm())


@pytest.mark.parametrize("kind", list(SHAPES))
def test_R2_llama_family_splits_exactly_in_float64(traced, kind):
    t = traced[kind]
    blocks, branches = SHAPES[kind]
    assert len(t.blocks) == blocks
    assert [len(b.branches) for b in t.blocks] == [branches] * blocks
    assert all(b.skip.kind == "identity" for b in t.blocks)
    assert frozen_spectrum(t).max_rel_error() <= TOL
    assert _dp_vs_enumeration(t) <= TOL
    assert not t.kept_islands()


def test_R4_parallel_blocks_count_three_terms(traced):
    from resdepth.real.models import traced_description
    from resdepth.real.rows import count_row

    row = count_row("phi", traced_description(traced["phi"]))
    assert row.details["predicted"] == [1, 4, 4] and row.verdict == "pass"


@pytest.mark.parametrize("kind", ["llama", "gemma2"])
def test_R2_float32_islands_of_transformers_are_promoted_and_named(traced, kind):
    t = traced[kind]
    promoted = {(i.op, i.module) for i in t.islands if i.status == "promoted"}
    assert ("to.dtype", "model.layers.0.input_layernorm") in promoted
    assert any(module == "model.rotary_emb" for _, module in promoted)
    assert 1e-9 < t.eager_gap < 1e-5  # the eager model did run those islands in float32
    if kind == "gemma2":
        assert ("softmax.int", "model.layers.0.self_attn") in promoted


def test_R2_without_promotion_the_float32_island_breaks_the_split():
    model, inputs = tiny_causal_lm("llama")
    t = trace_model(model, inputs, output="logits", float64=False)
    kept = {(i.op, i.module, i.dtype) for i in t.kept_islands()}
    assert ("to.dtype", "model.layers.0.input_layernorm", "float32") in kept
    error = frozen_spectrum(t).max_rel_error()
    assert 1e-10 < error <= t.exact_tol(1e-10)


def test_R2_gates_are_listed_by_op_and_module(traced):
    rules = {g["gate"]: g for g in frozen_gate_summary(traced["llama"])}
    rsqrt = next(g for k, g in rules.items() if k.startswith("rsqrt"))
    assert "model.layers.0.input_layernorm" in rsqrt["modules"] and "model.norm" in \
        rsqrt["modules"] and rsqrt["count"] == 5
    mul = next(g for k, g in rules.items() if k.startswith("mul"))
    assert mul["modules"] == ["model.layers.0.mlp", "model.layers.1.mlp"]  # SwiGLU's gate
    assert not any(k.startswith("pow") for k in rules)  # x^2 only feeds the frozen 1/rms


class _HandAttention(nn.Module):
    def __init__(self, d, island=False):
        super().__init__()
        self.q, self.k, self.v = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        self.island = island

    def forward(self, x):
        if self.island:
            x = x.float().to(torch.float64)  # the planted island
        scores = self.q(x) @ self.k(x).transpose(-2, -1) / x.shape[-1] ** 0.5
        return torch.softmax(scores, dim=-1) @ self.v(x)


class _HandTransformer(nn.Module):
    def __init__(self, d=8, n=2, island=False):
        super().__init__()
        self.attn = nn.ModuleList(_HandAttention(d, island) for _ in range(n))

    def forward(self, x):
        for block in self.attn:
            x = x + block(x)
        return x


_LINE = _HandAttention.forward.__code__.co_firstlineno + 2


def _hand(island=False):
    torch.manual_seed(0)
    return _HandTransformer(island=island).double().eval(), (torch.randn(2, 5, 8,
                                                                      dtype=torch.float64),)


def test_R2_hand_written_softmax_is_listed_as_frozen():
    model, inputs = _hand()
    t = trace_model(model, inputs)
    rules = {g["gate"]: g for g in frozen_gate_summary(t)}
    softmax = rules["softmax: pattern frozen (written out)"]
    assert softmax["modules"] == ["attn.0", "attn.1"] and softmax["count"] == 2
    assert frozen_spectrum(t).max_rel_error() <= TOL


def test_R2_a_planted_float32_island_is_detected_and_named():
    model, inputs = _hand(island=True)
    promoted = trace_model(model, inputs)
    assert [(i.op, i.module, i.dtype, i.status) for i in promoted.islands] == [
        ("to.dtype", f"attn.{b}", "float32", "promoted") for b in (0, 1)]
    assert all("the planted island" in i.describe() for i in promoted.islands)
    assert frozen_spectrum(promoted).max_rel_error() <= TOL
    kept = trace_model(model, inputs, float64=False)
    names = [i.describe() for i in kept.kept_islands()]
    assert names == [f"to.dtype in attn.{b} at test_llama_family.py:{_LINE} `x = x.float().to("
                     f"torch.float64)  # the planted island`: float32 kept below float64"
                     for b in (0, 1)]
    assert kept.exact_tol(1e-10) == pytest.approx(1e3 * torch.finfo(torch.float32).eps)
    assert 1e-12 < frozen_spectrum(kept).max_rel_error() <= kept.exact_tol(1e-10)


def test_R2_batched_lesions_equal_one_pass_per_deletion_set(traced):
    from numerics.real.frozen import frozen_output, run_chain
    from numerics.real.lesions import lesioned_outputs

    t = traced["qwen2"]
    sets = [[0], [3], [1, 2], [0, 1, 2, 3], []]
    measured, frozen = lesioned_outputs(t, sets, chunk=2)
    def rel(a, b):
        return float((a - b).norm() / b.norm())

    for j, deleted in enumerate(sets):
        assert rel(measured[j], run_chain(t, deleted=deleted).detach()) <= 1e-12
        assert rel(frozen[j], frozen_output(t, deleted=deleted)) <= 1e-12
    assert rel(measured[2], frozen[2]) > 1e-6  # the gates do move under a lesion


def test_S2_init_profile_reuses_the_graph_with_initial_weights(traced):
    from numerics.real.probes import reinitialised, reweighted, signal_profile

    model, inputs = tiny_causal_lm("llama")
    fresh = reinitialised(model, 0)
    again = signal_profile(trace_model(fresh, inputs, output="logits"))
    reused = signal_profile(reweighted(traced["llama"], fresh))
    assert reused["effective_lam"] == pytest.approx(again["effective_lam"], rel=1e-12)
    assert reused["effective_lam"] != pytest.approx(signal_profile(traced["llama"])[
        "effective_lam"], rel=1e-3)


def test_S2_reinitialised_equals_a_full_copy_reset_without_copying_the_weights():
    import copy

    from numerics.real.probes import reinitialised

    model, _ = tiny_causal_lm("llama")
    given = {k: v.clone() for k, v in model.state_dict().items()}
    reference = copy.deepcopy(model)  # the old way: copy every weight, then reset
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        for module in reference.modules():
            if callable(getattr(module, "reset_parameters", None)):
                module.reset_parameters()
    fresh = reinitialised(model, 3)
    expected, got = reference.state_dict(), fresh.state_dict()
    assert expected.keys() == got.keys()
    assert all(torch.equal(expected[k], got[k]) for k in expected)
    assert all(torch.equal(given[k], v) for k, v in model.state_dict().items())  # untouched
    # RMSNorm has no reset_parameters: its scale keeps the given values, not the fresh zeros
    norm = next(k for k in got if k.endswith("norm.weight"))
    with torch.no_grad():
        model.get_parameter(norm).mul_(3.0)
    assert torch.equal(reinitialised(model, 3).get_parameter(norm),
                       model.get_parameter(norm))
    assert not torch.equal(got[next(k for k in got if k.endswith("q_proj.weight"))],
                           given[next(k for k in given if k.endswith("q_proj.weight"))])


@pytest.mark.gpu
def test_R2_llama_spectrum_and_lesions_run_on_cuda_and_match_the_cpu(traced):
    """Skipped by tests/conftest.py where CUDA is absent (the fixture is never built then);
    the device comes from numerics.device.choose_device, the one place that chooses it."""
    from numerics.device import choose_device
    from numerics.real.lesions import lesioned_outputs

    device = choose_device("cuda")
    model, (ids,) = tiny_causal_lm("llama")
    on_gpu = trace_model(model.to(device), (ids.to(device),), output="logits")
    gpu, cpu = frozen_spectrum(on_gpu), frozen_spectrum(traced["llama"])
    assert gpu.terms.device.type == "cuda" and gpu.max_rel_error() <= TOL
    assert float((gpu.terms.cpu() - cpu.terms).norm() / cpu.terms.norm()) <= 1e-10
    sets = [[0], [1, 3]]
    on_device, on_cpu = lesioned_outputs(on_gpu, sets), lesioned_outputs(traced["llama"], sets)
    for a, b in zip(on_device, on_cpu):
        assert a.device.type == "cuda"
        assert float((a.cpu() - b).norm() / b.norm()) <= 1e-10
