"""R1/R2 on the structures and operations users bring: skip and branch told apart by structure
(NF-ResNet's alpha-scaled branch beside a standardised-conv projection shortcut, DeepNorm's
alpha > 1 skip), the affine ATen operations with rules (addcmul, addcdiv, baddbmm, einsum,
lerp, ...), an operation without a rule naming itself, and blocks that read a second stream."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from numerics.real.frozen import enumerate_frozen_paths, frozen_spectrum, trace_model

TOL = 1e-12


def _dp_vs_enumeration(t) -> float:
    spectrum = frozen_spectrum(t)
    paths, lengths = enumerate_frozen_paths(t)
    summed = torch.zeros_like(spectrum.terms).index_add_(0, lengths, paths)
    return float((summed - spectrum.terms).flatten(1).norm(dim=1).max() / t.output.norm())


class StdConv2d(nn.Conv2d):
    """timm's ScaledStdConv2d: the weight standardised per output channel at every call,
    scaled by 1 / sqrt(fan_in)."""

    def forward(self, x):
        w = self.weight
        fan_in = w[0].numel()
        mean = w.mean(dim=(1, 2, 3), keepdim=True)
        var = w.var(dim=(1, 2, 3), keepdim=True, unbiased=False)
        return F.conv2d(x, (w - mean) / torch.sqrt(var * fan_in + 1e-6), self.bias,
                        self.stride, self.padding)


class NFBlock(nn.Module):
    """NF-ResNet's pre-activation bottleneck: out = alpha * f(act(x) / beta) + shortcut, the
    shortcut a downsampling (avg-pool + standardised 1x1 conv) of act(x) / beta where the
    stage opens, x itself elsewhere."""

    def __init__(self, cin, cout, stride, alpha, beta):
        super().__init__()
        self.alpha, self.beta = alpha, beta
        self.downsample = nn.Sequential(nn.AvgPool2d(stride), StdConv2d(cin, cout, 1)) \
            if stride > 1 or cin != cout else None
        self.conv1, self.conv2 = StdConv2d(cin, cout, 1), StdConv2d(cout, cout, 3, padding=1)
        self.conv3 = StdConv2d(cout, cout, 1, stride=stride)

    def forward(self, x):
        out = F.gelu(x) / self.beta
        shortcut = self.downsample(out) if self.downsample is not None else x
        out = self.conv3(F.gelu(self.conv2(F.gelu(self.conv1(out)))))
        return out * self.alpha + shortcut


class NFNet(nn.Module):
    def __init__(self, alpha=0.2):
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, padding=1)
        self.blocks = nn.Sequential(NFBlock(4, 6, 2, alpha, 1.0), NFBlock(6, 6, 1, alpha, 1.1),
                                    NFBlock(6, 8, 2, alpha, 1.2), NFBlock(8, 8, 1, alpha, 1.3))

    def forward(self, x):
        return self.blocks(self.stem(x)).mean((2, 3))


def test_R1_nf_resnet_projection_is_the_skip_not_the_scaled_branch():
    torch.manual_seed(0)
    model = NFNet().double().eval()
    t = trace_model(model, (torch.randn(2, 3, 8, 8, dtype=torch.float64),))
    assert [b.skip.kind for b in t.blocks] == ["projection", "identity"] * 2
    assert [b.skip.name for b in t.blocks[::2]] == ["downsample"] * 2
    assert [(b.branches[0].layers, b.branches[0].multiplier) for b in t.blocks] == [
        (3, pytest.approx(0.2))] * 4
    spectrum = frozen_spectrum(t)
    assert spectrum.max_rel_error() <= TOL and _dp_vs_enumeration(t) <= TOL
    # alpha = 0.2 keeps the signal near the short paths (a swap would put it at length 2)
    assert spectrum.mean_length() < 0.5
    assert max(range(5), key=lambda k: spectrum.signed_shares()[k]) <= 1


class DeepNormBlock(nn.Module):
    """DeepNorm: LN(alpha x + f(x)) with alpha > 1 on the skip."""

    def __init__(self, d, alpha, skip_first):
        super().__init__()
        self.f = nn.Sequential(nn.Linear(d, 2 * d), nn.ReLU(), nn.Linear(2 * d, d))
        self.norm = nn.LayerNorm(d)
        self.alpha, self.skip_first = alpha, skip_first

    def forward(self, x):
        s = x * self.alpha
        return self.norm(s + self.f(x) if self.skip_first else self.f(x) + s)


@pytest.mark.parametrize("skip_first", [True, False])
def test_R1_deepnorm_skip_scaled_by_alpha_above_one_is_the_skip(skip_first):
    torch.manual_seed(1)
    model = nn.Sequential(*[DeepNormBlock(8, 2.5, skip_first) for _ in range(3)]).double().eval()
    t = trace_model(model, (torch.randn(4, 8, dtype=torch.float64),))
    assert [(b.skip.kind, b.skip.multiplier) for b in t.blocks] == [("scaled", 2.5)] * 3
    assert [b.branches[0].layers for b in t.blocks] == [2] * 3
    assert frozen_spectrum(t).max_rel_error() <= TOL and _dp_vs_enumeration(t) <= TOL


class OpBlock(nn.Module):
    """x + W2 op(W1 x): the branch passes through one ATen operation under test."""

    def __init__(self, d, op):
        super().__init__()
        self.w1, self.w2 = nn.Linear(d, d), nn.Linear(d, d)
        self.scale = nn.Parameter(1 + 0.3 * torch.randn(d))
        self.shift = nn.Parameter(0.2 * torch.randn(d))
        self.op = op

    def forward(self, x):
        h = self.w1(x)
        if self.op == "addcmul":  # an affine "norm" written with addcmul
            h = torch.addcmul(self.shift, h, self.scale)
        elif self.op == "addcdiv":
            h = torch.addcdiv(self.shift, h, torch.sigmoid(h) + 1, value=0.5)
        elif self.op == "baddbmm":
            m = torch.eye(h.shape[-1], dtype=h.dtype).expand(h.shape[0], -1, -1) * 0.7
            h = torch.baddbmm(self.shift.expand(h.shape[0], 1, -1), h.unsqueeze(1), m,
                              beta=0.5, alpha=2.0).squeeze(1)
        elif self.op == "einsum":
            h = torch.einsum("bi,i,bi->bi", h, self.scale, torch.tanh(h))  # h * tanh(h)
        elif self.op == "lerp":
            h = torch.lerp(h, torch.relu(h), torch.sigmoid(self.scale))
        elif self.op == "lerp_gate":
            h = torch.lerp(h, self.shift.expand_as(h), torch.sigmoid(h))
        elif self.op == "addmv":
            h = torch.stack([torch.addmv(self.shift, torch.diag(self.scale), r) for r in h])
        elif self.op == "sinc":
            h = torch.sinc(h)
        return x + self.w2(torch.relu(h))


OPS = ["addcmul", "addcdiv", "baddbmm", "einsum", "lerp", "lerp_gate", "addmv"]


@pytest.mark.parametrize("op", OPS)
def test_R2_affine_aten_ops_have_rules(op):
    torch.manual_seed(2)
    model = nn.Sequential(*[OpBlock(6, op) for _ in range(3)]).double().eval()
    t = trace_model(model, (torch.randn(5, 6, dtype=torch.float64),))
    assert len(t.blocks) == 3
    assert frozen_spectrum(t).max_rel_error() <= TOL and _dp_vs_enumeration(t) <= TOL


def test_an_op_without_a_rule_names_itself():
    model = nn.Sequential(OpBlock(6, "sinc"), OpBlock(6, "sinc")).double().eval()
    t = trace_model(model, (torch.randn(5, 6, dtype=torch.float64),))
    with pytest.raises(ValueError, match=r"cannot follow aten\.sinc.* at module 0, "
                                         r"test_structure_ops\.py:\d+ `h = torch.sinc\(h\)`"):
        frozen_spectrum(t)


class _Attn(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.q, self.k, self.v = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)

    def forward(self, q_in, kv_in):
        a = torch.softmax(self.q(q_in) @ self.k(kv_in).transpose(-2, -1) / 4, -1)
        return a @ self.v(kv_in)


class ClassAttention(nn.Module):
    """CaiT: self-attention blocks on the patch tokens, then a class token (a parameter)
    updated by attention over [class token, patches]."""

    def __init__(self, d=8):
        super().__init__()
        self.embed, self.cls = nn.Linear(3, d), nn.Parameter(torch.randn(1, 1, d))
        self.sa = nn.ModuleList(_Attn(d) for _ in range(2))
        self.ca = nn.ModuleList(_Attn(d) for _ in range(2))

    def forward(self, x):
        x = self.embed(x)
        for block in self.sa:
            x = x + block(x, x)
        cls = self.cls.expand(x.shape[0], -1, -1)
        for block in self.ca:
            cls = cls + block(cls, torch.cat([cls, x], 1))
        return cls[:, 0]


class Decoder(nn.Module):
    """Decoder blocks: self-attention, then cross-attention over an encoder output (an input)."""

    def __init__(self, d=8):
        super().__init__()
        self.sa = nn.ModuleList(_Attn(d) for _ in range(2))
        self.xa = nn.ModuleList(_Attn(d) for _ in range(2))

    def forward(self, y, encoded):
        for a, b in zip(self.sa, self.xa):
            y = y + a(y, y)
            y = y + b(y, encoded)
        return y


def test_R1_class_attention_second_stream_is_refused_in_one_line():
    torch.manual_seed(3)
    model = ClassAttention().double().eval()
    with pytest.raises(ValueError, match=r"^a second residual stream: .* adds p_model_cls .*"
                                         r"cannot be split by path length") as info:
        trace_model(model, (torch.randn(2, 5, 3, dtype=torch.float64),))
    assert "\n" not in str(info.value)


def test_R2_cross_attention_reads_the_encoder_output_as_a_fixed_input():
    torch.manual_seed(4)
    model = Decoder().double().eval()
    y, encoded = (torch.randn(2, 4, 8, dtype=torch.float64),
                  torch.randn(2, 6, 8, dtype=torch.float64))
    t = trace_model(model, (y, encoded))
    assert len(t.blocks) == 4
    assert any(n.startswith("second stream: the input") and "xa.0, xa.1" in n
               for n in t.captured.notes)
    spectrum = frozen_spectrum(t)
    assert spectrum.max_rel_error() <= TOL and _dp_vs_enumeration(t) <= TOL
    # a path through a cross-attention branch carries no stream after it: the encoder's part
    # enters once, on the bias coordinate, so no path crosses both cross-attention blocks
    # together with both self-attention blocks
    assert spectrum.terms[4].abs().max() == 0


def test_docs_list_every_operation_with_a_rule():
    from pathlib import Path

    from numerics.real.gates import op_coverage

    text = (Path(__file__).resolve().parents[3] / "docs" / "real_models.md").read_text()
    table = text.split("<!-- op-coverage:begin -->\n")[1].split("<!-- op-coverage:end -->")[0]
    assert table == op_coverage()
    for op in ("addcmul", "addcdiv", "baddbmm", "einsum", "lerp", "rms_norm", "softmax"):
        assert f"`{op}`" in table
