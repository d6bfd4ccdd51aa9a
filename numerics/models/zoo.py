"""Small real architectures for tests, benchmarks and the pytest plugin (built offline).

- :class:`BasicBlock` / :func:`resnet_cnn`: torchvision's ResNet BasicBlock written out (3x3
  conv, BN, ReLU, 3x3 conv, BN, a 1x1 conv + BN ``downsample`` projection when the shape changes,
  ``out += identity`` and a ReLU after the add), so that the tracer is tested on torchvision's
  structure without torchvision (whose wheel does not import beside this CPU torch);
- :func:`tiny_transformer`: BERT (post-LN), GPT-2 (pre-LN) or ViT (pre-LN) from transformers
  configs with random weights (no hub download), and example inputs;
- every weight, LayerNorm affine and BatchNorm running statistic drawn from one seeded
  generator (:func:`randomise_`), so that no gate is at a trivial value (gamma = 1, mean 0);
- :func:`seeded_tower`: numerics' own tower of a ModelConfig with weights from a seed and
  biases redrawn N(0, bias_std^2) (what commands build and what resdepth.strategies draws).
"""

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["BasicBlock", "TRANSFORMERS", "gaussian_inputs", "randomise_", "resnet_cnn",
           "seeded_tower", "tiny_transformer"]

TRANSFORMERS = ("bert", "gpt2", "vit")


class BasicBlock(nn.Module):
    """torchvision.models.resnet.BasicBlock: relu(bn2(conv2(relu(bn1(conv1 x)))) + shortcut(x))."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                            nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class ResNetCNN(nn.Module):
    """Stem (conv, BN, ReLU, max-pool), BasicBlocks, global average pool, linear head."""

    def __init__(self, widths: list[int], classes: int = 5):
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(2)
        self.layer1 = nn.Sequential(*[BasicBlock(a, b, 1 if a == b else 2)
                                      for a, b in zip(widths, widths[1:])])
        self.fc = nn.Linear(widths[-1], classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer1(x)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def randomise_(model: nn.Module, generator: torch.Generator) -> nn.Module:
    """Redraw norm affines (1 + 0.3 N, 0.2 N), BN running statistics and biases, in place."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d | nn.LayerNorm) and module.weight is not None:
                module.weight.copy_(1 + 0.3 * torch.randn(module.weight.shape, generator=generator))
                module.bias.copy_(0.2 * torch.randn(module.bias.shape, generator=generator))
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.copy_(0.1 * torch.randn(module.running_mean.shape,
                                                            generator=generator))
                module.running_var.copy_(1 + 0.5 * torch.rand(module.running_var.shape,
                                                              generator=generator))
    return model


def resnet_cnn(widths=(8, 8, 16), *, seed: int = 0, batch: int = 2, side: int = 8):
    """(model, (images,)): a BasicBlock ResNet, float64, eval, with random BN statistics."""
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = ResNetCNN(list(widths))
    randomise_(model, generator)
    images = torch.randn(batch, 3, side, side, generator=generator, dtype=torch.float64)
    return model.double().eval(), (images,)


def tiny_transformer(kind: str, *, layers: int = 2, hidden: int = 16, seed: int = 0,
                     batch: int = 2, tokens: int = 5, randomise: bool = True):
    """(model, inputs) for a transformers BERT, GPT-2 or ViT built from its config offline."""
    import transformers
    from transformers.utils import logging

    logging.set_verbosity_error()
    if kind not in TRANSFORMERS:
        raise ValueError(f"kind must be one of {TRANSFORMERS}, got {kind!r}")
    generator = torch.Generator().manual_seed(seed)
    heads, vocab = 2, 50
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if kind == "bert":
            model = transformers.BertModel(transformers.BertConfig(
                vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers,
                num_attention_heads=heads, intermediate_size=2 * hidden,
                max_position_embeddings=32))
        elif kind == "gpt2":
            model = transformers.GPT2Model(transformers.GPT2Config(
                vocab_size=vocab, n_embd=hidden, n_layer=layers, n_head=heads, n_positions=32,
                use_cache=False, bos_token_id=0, eos_token_id=0))
        else:
            model = transformers.ViTModel(transformers.ViTConfig(
                hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                intermediate_size=2 * hidden, image_size=8, patch_size=4, num_channels=3))
    if randomise:
        randomise_(model, generator)
    if kind == "vit":
        inputs = (torch.randn(batch, 3, 8, 8, generator=generator, dtype=torch.float64),)
    else:
        inputs = (torch.randint(0, vocab, (batch, tokens), generator=generator),)
    return model.double().eval(), inputs


def seeded_tower(seed: int, cfg, *, in_dim: int, out_dim: int, bias_std: float = 0.5,
                 dtype=torch.float64):
    """The model of ``cfg`` with weights from ``torch.Generator().manual_seed(seed)``.

    :func:`numerics.models.networks.build_model` sets biases to 0; here every bias is redrawn
    N(0, bias_std^2) from the same generator, so that R2's bias paths (the augmented
    coordinate) are exercised. Returned in ``dtype``, eval mode. The layers' constructors
    consume torch's global generator before their weights are redrawn, so the construction
    runs inside :func:`torch.random.fork_rng`: global state is left as it was.
    """
    from numerics.models.networks import build_model

    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        model = build_model(cfg, in_dim, out_dim, generator=generator)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("bias"):
                param.copy_(torch.randn(param.shape, generator=generator) * bias_std)
    return model.to(dtype).eval()


def gaussian_inputs(seed: int, batch: int, in_dim: int, *, scale: float = 1.0,
                    dtype=torch.float64) -> torch.Tensor:
    """A (batch, in_dim) Gaussian input batch from a generator seeded ``seed + 1``."""
    generator = torch.Generator().manual_seed(seed + 1)
    return scale * torch.randn(batch, in_dim, generator=generator, dtype=dtype)
