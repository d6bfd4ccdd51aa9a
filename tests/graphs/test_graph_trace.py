"""R1, R4: DAGs traced from real modules (torch.fx without inputs, torch.export with them) count the same paths as their specs."""

import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from graphs.builders import BlockSpec, residual_dag, tower
from graphs.counting import count_paths
from numerics.models.config import ModelConfig
from numerics.models.networks import build_model
from resdepth.real.models import trace_residual_dag
from theorems.counting import chain_count


class BasicBlock(nn.Module):
    """ResNet basic block; a 1x1 convolution shortcut when the shape changes."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                          nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class SmallResNet(nn.Module):
    def __init__(self, widths: list[int]):
        super().__init__()
        self.stem = nn.Conv2d(3, widths[0], 3, padding=1)
        self.stages = nn.Sequential(*[
            BasicBlock(cin, cout, 1 if cin == cout else 2)
            for cin, cout in itertools.pairwise(widths)
        ])
        self.head = nn.Linear(widths[-1], 10)

    def forward(self, x):
        x = self.stages(F.relu(self.stem(x)))
        return self.head(x.mean(dim=(2, 3)))


class CausalSelfAttention(nn.Module):
    """Attention written out: q, k, v from one projection (many paths inside one branch)."""

    def __init__(self, d: int, heads: int):
        super().__init__()
        self.qkv, self.proj, self.heads = nn.Linear(d, 3 * d), nn.Linear(d, d), heads

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=2)
        q, k, v = (z.view(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
        att = ((q @ k.transpose(-2, -1)) / math.sqrt(d // self.heads)).softmax(dim=-1)
        return self.proj((att @ v).transpose(1, 2).reshape(b, t, d))


class PreLNLayer(nn.Module):
    """x + attn(LN(x)), then x + mlp(LN(x)): two residual sublayers."""

    def __init__(self, d: int, torch_attention: bool):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.torch_attention = torch_attention
        self.attn = (nn.MultiheadAttention(d, 2, batch_first=True) if torch_attention
                     else CausalSelfAttention(d, 2))
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x):
        h = self.ln1(x)
        if self.torch_attention:
            x = x + self.attn(h, h, h, need_weights=False)[0]
        else:
            x = x + self.attn(h)
        return x + self.mlp(self.ln2(x))


class PreLNTransformer(nn.Module):
    def __init__(self, layers: int, d: int = 8, vocab: int = 11, torch_attention: bool = False):
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, d), nn.Embedding(32, d)
        self.layers = nn.ModuleList(PreLNLayer(d, torch_attention) for _ in range(layers))
        self.ln_f, self.head = nn.LayerNorm(d), nn.Linear(d, vocab)

    def forward(self, idx):
        x = self.tok(idx) + self.pos(torch.arange(idx.size(1)))
        for layer in self.layers:
            x = layer(x)
        return self.head(self.ln_f(x))


class Parallel(nn.Module):
    """x + f_1(x) + ... + f_B(x)."""

    def __init__(self, branches: int, d: int = 4):
        super().__init__()
        self.fs = nn.ModuleList(nn.Linear(d, d) for _ in range(branches))

    def forward(self, x):
        out = x
        for f in self.fs:
            out = out + f(x)
        return out


@given(st.lists(st.sampled_from([8, 16]), min_size=1, max_size=5))
def test_R4_traced_resnet_matches_spec(widths):
    """Identity and projection shortcuts: the traced DAG is the spec's, block for block."""
    graph = trace_residual_dag(SmallResNet([8] + widths))
    specs = [BlockSpec(depth=2, projection=cin != cout)
             for cin, cout in itertools.pairwise([8, *widths])]
    assert count_paths(graph) == count_paths(residual_dag(specs))
    assert count_paths(graph, "layers") == count_paths(residual_dag(specs), "layers")
    projections = sum(kind == "projection" for _, kind in graph.nodes(data="kind"))
    assert projections == sum(s.projection for s in specs)


@pytest.mark.parametrize("torch_attention", [False, True])
@pytest.mark.parametrize("layers", [1, 3])
def test_R4_traced_pre_ln_transformer_has_two_blocks_per_layer(layers, torch_attention):
    graph = trace_residual_dag(PreLNTransformer(layers, torch_attention=torch_attention))
    n = 2 * layers
    assert graph.graph["blocks"] == n
    assert count_paths(graph).by_length == tuple(chain_count(n, k) for k in range(n + 1))


@given(st.lists(st.integers(1, 3), min_size=1, max_size=4))
def test_R4_traced_parallel_branches(branches):
    graph = trace_residual_dag(nn.Sequential(*[Parallel(b) for b in branches]))
    spec = residual_dag([BlockSpec(branches=b) for b in branches])
    assert count_paths(graph) == count_paths(spec)


@st.composite
def model_configs(draw) -> ModelConfig:
    arch = draw(st.sampled_from(["mlp", "cnn", "transformer"]))
    norms = ["none", "pre", "post"] + ([] if arch == "transformer" else ["batch"])
    norm = draw(st.sampled_from(norms))
    scalings = ["constant", "inv-sqrt", "inv", "learnable", "fixup", "mup"]
    scaling = draw(st.sampled_from(scalings + (["deepnorm"] if norm == "post" else [])))
    return ModelConfig(arch=arch, depth=draw(st.integers(1, 4)), width=4, heads=2, norm=norm,
                       scaling=scaling, activation=draw(st.sampled_from(["relu", "gelu"])))


@given(model_configs(), st.integers(0, 2**32 - 1))
def test_R4_traced_numerics_models_match_the_tower(cfg, seed):
    """numerics' models, every arch, norm and scaling: paths = C(n, k), n = len(model.blocks)."""
    in_dim = {"mlp": 5, "cnn": 16, "transformer": 7}[cfg.arch]
    model = build_model(cfg, in_dim, 2, generator=torch.Generator().manual_seed(seed))
    graph = trace_residual_dag(model)
    n = len(model.blocks)
    assert count_paths(graph) == count_paths(tower(n))
    assert count_paths(graph, "layers") == count_paths(tower(n, depth=2), "layers")


class DataDependent(nn.Module):
    def __init__(self):
        super().__init__()
        self.f = nn.Linear(3, 3)

    def forward(self, x):
        if x.sum() > 0:
            return x + self.f(x)
        return x


class Gated(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(3, 3), nn.Linear(3, 3)

    def forward(self, x):
        return self.a(x) * self.b(x)


class Concatenating(nn.Module):
    def __init__(self):
        super().__init__()
        self.f = nn.Linear(3, 3)

    def forward(self, x):
        return torch.cat([x, self.f(x)], dim=-1)


@pytest.mark.parametrize("module, construct", [
    (DataDependent(), r"control flow.*`if x.sum\(\) > 0:`"),
    (nn.Sequential(nn.Linear(3, 3), DataDependent()), "control flow"),
    (Gated(), "join at mul .* not a residual addition"),
    (Concatenating(), "join at cat .* not a residual addition"),
])
def test_untraceable_models_name_the_construct(module, construct):
    with pytest.raises(ValueError, match=construct):
        trace_residual_dag(module)


def test_non_modules_are_errors():
    with pytest.raises(ValueError, match="torch.nn.Module"):
        trace_residual_dag(lambda x: x)


def _positions(t, d):
    """A module-level helper fx cannot enter (a traced size given to torch.zeros)."""
    return torch.zeros(t, d)


class WithPositions(nn.Module):
    def __init__(self):
        super().__init__()
        self.f = nn.Linear(4, 4)

    def forward(self, x):
        x = x + _positions(x.shape[0], 4)
        return x + self.f(x)


def test_untraceable_helpers_become_opaque_calls():
    graph = trace_residual_dag(WithPositions())
    assert graph.graph["opaque"].endswith("._positions")
    assert count_paths(graph).by_length == (1, 1)
    assert _positions(2, 3).shape == (2, 3)


class GatedBranchBlock(nn.Module):
    """x + W2 relu(W1 x) * sigmoid(W3 x): paths inside the branch cross 2 or 1 weight layers."""

    def __init__(self, d: int = 4):
        super().__init__()
        self.w1, self.w2, self.w3 = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)

    def forward(self, x):
        return x + self.w2(F.relu(self.w1(x))) * torch.sigmoid(self.w3(x))


@given(st.integers(1, 5))
def test_R4_branch_depth_is_its_longest_weight_chain(n):
    graph = trace_residual_dag(nn.Sequential(*[GatedBranchBlock() for _ in range(n)]))
    assert count_paths(graph, "layers") == count_paths(tower(n, depth=2), "layers")
