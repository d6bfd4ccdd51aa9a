"""R2 on real architectures: the frozen-gate paths of BERT, GPT-2, ViT, a torchvision-style ResNet
and user modules sum to the forward pass; the DP equals enumeration; broken rules are caught."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import numerics.real.frozen_rules as rules
from numerics.models.config import ModelConfig
from numerics.models.networks import build_model
from numerics.models.zoo import resnet_cnn, tiny_transformer
from numerics.real.frozen import enumerate_frozen_paths, frozen_output, frozen_spectrum, trace_model

TOL = 1e-10


def _models():
    cases = {"resnet": resnet_cnn()}
    if pytest.importorskip("transformers", reason="the hf extra is not installed"):
        cases.update({kind: tiny_transformer(kind) for kind in ("bert", "gpt2", "vit")})
    return cases


@pytest.fixture(scope="module")
def traced():
    return {name: trace_model(model, inputs) for name, (model, inputs) in _models().items()}


def _dp_vs_enumeration(t) -> float:
    spectrum = frozen_spectrum(t)
    paths, lengths = enumerate_frozen_paths(t)
    summed = torch.zeros_like(spectrum.terms).index_add_(0, lengths, paths)
    return float((summed - spectrum.terms).flatten(1).norm(dim=1).max() / t.output.norm())


@pytest.mark.parametrize("name, blocks, gate, skips", [
    ("resnet", 2, "relu", ["identity", "projection"]),
    ("bert", 4, "layer_norm", ["identity"] * 4),
    ("gpt2", 4, "identity", ["identity"] * 4),
    ("vit", 4, "identity", ["identity"] * 4),
])
def test_R2_real_models_are_sums_of_frozen_gate_paths(traced, name, blocks, gate, skips):
    t = traced[name]
    assert len(t.blocks) == blocks and set(t.gates()) == {gate}
    assert [b.skip.kind for b in t.blocks] == skips
    spectrum = frozen_spectrum(t)
    assert spectrum.max_rel_error() <= TOL
    assert abs(sum(spectrum.signed_shares()) - 1) <= TOL
    assert _dp_vs_enumeration(t) <= TOL


def test_R2_transformer_blocks_are_attention_then_mlp(traced):
    names = {kind: [b.branches[0].name for b in traced[kind].blocks] for kind in
             ("bert", "gpt2", "vit")}
    assert names["bert"] == ["attention", "intermediate"] * 2
    assert names["gpt2"] == ["attn", "mlp"] * 2
    assert names["vit"] == ["attention", "mlp"] * 2
    assert traced["resnet"].blocks[1].skip.name == "downsample"


def test_R2_frozen_output_is_the_forward_and_lesions_drop_paths(traced):
    t = traced["resnet"]
    assert float((frozen_output(t) - t.output).norm() / t.output.norm()) <= TOL
    paths, lengths = enumerate_frozen_paths(t)
    kept = paths[torch.tensor([0, 2])].sum(0)  # subsets avoiding block 1: {}, {2}
    lesioned = frozen_output(t, deleted=[0])
    assert float((lesioned - kept).norm() / t.output.norm()) <= TOL


class LayerScaleBlock(nn.Module):
    """Pre-LN block with a LayerScale vector, a hand-written GELU and a SwiGLU-style gate."""

    def __init__(self, d=6):
        super().__init__()
        self.ln, self.up, self.gate, self.down = nn.LayerNorm(d), nn.Linear(d, 8), \
            nn.Linear(d, 8), nn.Linear(8, d)
        self.gamma = nn.Parameter(torch.linspace(0.1, 0.6, d))

    def forward(self, x):
        h = self.ln(x)
        u = self.up(h)
        gelu = 0.5 * u * (1 + torch.tanh(math.sqrt(2 / math.pi) * (u + 0.044715 * u**3)))
        return x + self.gamma * self.down(F.silu(self.gate(h)) * gelu)


class ParallelReZero(nn.Module):
    """x + alpha (attn(LN x) + mlp(LN x)): two parallel branches, a ReZero scalar."""

    def __init__(self, d=6, alpha=0.3):
        super().__init__()
        self.ln, self.attn = nn.LayerNorm(d), nn.MultiheadAttention(d, 2, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(d, 12), nn.GELU(), nn.Linear(12, d))
        self.alpha = nn.Parameter(torch.tensor(alpha))

    def forward(self, x):
        h = self.ln(x)
        return x + self.alpha * self.attn(h, h, h, need_weights=False)[0] + self.alpha * self.mlp(h)


class DeepNormBlock(nn.Module):
    """LN(alpha x + f(x)) with a hand-written LayerNorm and max-pooling in the branch."""

    def __init__(self, d=6, alpha=2.0):
        super().__init__()
        self.f, self.alpha = nn.Linear(d, 2 * d), alpha

    def forward(self, x):
        z = self.alpha * x + F.max_pool1d(self.f(x).unsqueeze(1), 2).squeeze(1)
        mean = z.mean(-1, keepdim=True)
        return (z - mean) / torch.sqrt(((z - mean) ** 2).mean(-1, keepdim=True) + 1e-5)


def _user(cls, n, shape):
    torch.manual_seed(3)
    model = nn.Sequential(*[cls() for _ in range(n)]).double().eval()
    return model, (torch.randn(*shape, dtype=torch.float64),)


@pytest.mark.parametrize("cls, n, shape, branches, kind", [
    (LayerScaleBlock, 3, (4, 6), 1, "vector"),
    (ParallelReZero, 2, (2, 3, 6), 2, "scalar"),
    (DeepNormBlock, 3, (5, 6), 1, "none"),
])
def test_R2_user_modules_decompose_exactly(cls, n, shape, branches, kind):
    t = trace_model(*_user(cls, n, shape))
    assert len(t.blocks) == n and all(len(b.branches) == branches for b in t.blocks)
    assert {b.branches[0].multiplier_kind for b in t.blocks} == {kind}
    assert frozen_spectrum(t).max_rel_error() <= TOL
    assert _dp_vs_enumeration(t) <= TOL
    if cls is DeepNormBlock:
        assert {b.skip.kind for b in t.blocks} == {"scaled"}
        assert t.blocks[0].skip.multiplier == pytest.approx(2.0)


@pytest.mark.parametrize("norm", ["none", "pre", "post", "batch"])
def test_R2_resdepth_models_decompose_exactly(norm):
    cfg = ModelConfig(depth=3, width=6, norm=norm, activation="gelu")
    model = build_model(cfg, 5, 2, generator=torch.Generator().manual_seed(1)).double().eval()
    t = trace_model(model, (torch.randn(7, 5, dtype=torch.float64),))
    assert len(t.blocks) == 3
    assert frozen_spectrum(t).max_rel_error() <= TOL


def test_R2_a_wrong_frozen_rule_is_caught(traced, monkeypatch):
    """Break LayerNorm's frozen 1/sigma by one percent: the sum no longer matches."""
    original = rules._norm

    def wrong(node, name, args, actual, t, depth):
        out = original(node, name, args, actual, t, depth)
        return rules.Lin(out.x * 1.01, out.depth, out.name) if isinstance(out, rules.Lin) else out

    monkeypatch.setattr(rules, "_norm", wrong)
    assert frozen_spectrum(traced["vit"]).max_rel_error() > 1e-4


class NoResidual(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(3, 3), nn.Linear(3, 3)

    def forward(self, x):
        return self.b(torch.relu(self.a(x)))


class DataDependent(nn.Module):
    def __init__(self):
        super().__init__()
        self.f = nn.Linear(3, 3)

    def forward(self, x):
        if x.sum() > 0:
            return x + self.f(x)
        return x + 2 * self.f(x)


class Cumulative(nn.Module):
    def __init__(self):
        super().__init__()
        self.f = nn.Linear(3, 3)

    def forward(self, x):
        return x + torch.cumprod(self.f(x), dim=-1)


def test_errors_name_the_problem():
    x = (torch.randn(2, 3, dtype=torch.float64),)
    with pytest.raises(ValueError, match="no residual block"):
        trace_model(NoResidual().double(), x)
    with pytest.raises(ValueError, match=r"cannot follow aten.cumprod.* test_frozen.py:\d+"):
        frozen_spectrum(trace_model(Cumulative().double(), x))


def test_data_dependent_control_flow_falls_back_to_make_fx():
    x = (torch.randn(2, 3, dtype=torch.float64),)
    t = trace_model(DataDependent().double().eval(), x)
    assert "make_fx" in t.captured.method and t.captured.notes
    assert frozen_spectrum(t).max_rel_error() <= TOL
