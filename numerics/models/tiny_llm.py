"""Tiny decoder-only language models of the Llama family, built offline from transformers configs.

:func:`tiny_causal_lm` returns (model, token ids) for ``llama`` (tied embeddings, GQA),
``mistral`` (GQA, sliding window), ``qwen2`` (q/k/v biases), ``gemma2`` (sandwich norms, soft
capping, GeGLU), ``phi`` (parallel attention + MLP, partial rotary, LayerNorm) and ``gptj``
(parallel blocks, interleaved rotary). Weights are redrawn from one seeded generator with
standard deviation ``scale / sqrt(fan_in)`` and norm weights 1 + 0.3 N (0.3 N for Gemma's
``1 + w`` convention), so that every gate sits at a non-trivial value. No download: configs
only. :func:`llama_config` is the 30-layer, d = 576 (135M-scale) configuration the
benchmark uses.
"""

import math

import torch

__all__ = ["LLM_KINDS", "llama_config", "tiny_causal_lm"]

LLM_KINDS = ("llama", "mistral", "qwen2", "gemma2", "phi", "gptj")


def llama_config(layers: int = 30, hidden: int = 576, heads: int = 9, kv_heads: int = 3,
                 intermediate: int = 1536, vocab: int = 49152):
    """A LlamaConfig of the given sizes (defaults: 30 layers, d = 576, a 135M-scale model)."""
    import transformers

    return transformers.LlamaConfig(
        vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers,
        num_attention_heads=heads, num_key_value_heads=kv_heads,
        intermediate_size=intermediate, max_position_embeddings=2048, tie_word_embeddings=True,
        attn_implementation="sdpa")


def _config(kind: str, layers: int, hidden: int, vocab: int):
    import transformers

    common = dict(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers,
                  num_attention_heads=4, num_key_value_heads=2, intermediate_size=2 * hidden,
                  max_position_embeddings=64)
    if kind == "llama":
        return transformers.LlamaForCausalLM, transformers.LlamaConfig(
            **common, tie_word_embeddings=True)
    if kind == "mistral":
        return transformers.MistralForCausalLM, transformers.MistralConfig(
            **common, sliding_window=4)
    if kind == "qwen2":
        return transformers.Qwen2ForCausalLM, transformers.Qwen2Config(**common)
    if kind == "gemma2":
        return transformers.Gemma2ForCausalLM, transformers.Gemma2Config(
            **common, head_dim=hidden // 4, sliding_window=4)
    if kind == "phi":
        return transformers.PhiForCausalLM, transformers.PhiConfig(
            **common, partial_rotary_factor=0.5)
    if kind == "gptj":
        return transformers.GPTJForCausalLM, transformers.GPTJConfig(
            vocab_size=vocab, n_embd=hidden, n_layer=layers, n_head=4, rotary_dim=2,
            n_positions=64)
    raise ValueError(f"kind must be one of {LLM_KINDS}, got {kind!r}")


def redraw_(model, generator: torch.Generator, scale: float = 1.0, *, gemma: bool = False):
    """Every matrix N(0, scale^2 / fan_in), vectors (biases) 0.1 N, norm weights 1 + 0.3 N."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=generator, dtype=torch.float64)
            if p.dim() >= 2:
                p.copy_(noise * scale / math.sqrt(p.shape[-1]))
            elif "norm" in name and name.endswith("weight"):
                p.copy_(0.3 * noise if gemma else 1 + 0.3 * noise)
            else:
                p.copy_(0.1 * noise)
    return model


def tiny_causal_lm(kind: str, *, layers: int = 2, hidden: int = 16, vocab: int = 50,
                   seed: int = 0, batch: int = 2, tokens: int = 6, config=None):
    """(model, (ids,)): a random-weight causal LM, float64, eval, and ``batch`` x ``tokens`` ids.

    ``config`` (a transformers config) overrides ``kind``'s tiny one (the benchmark's Llama).
    """
    import transformers
    from transformers.utils import logging

    logging.set_verbosity_error()
    if config is not None:
        cls, cfg = transformers.LlamaForCausalLM, config
    else:
        cls, cfg = _config(kind, layers, hidden, vocab)
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = cls(cfg)
    model = redraw_(model.double(), generator, gemma=kind == "gemma2")
    ids = torch.randint(0, cfg.vocab_size, (batch, tokens), generator=generator)
    return model.eval(), (ids,)
