"""Write a transformers Llama (or a Mistral/Qwen2 with llama.cpp's llama layout) as a GGUF file.

What llama.cpp's ``convert_hf_to_gguf.py`` does for a Llama, in small: the config as
``llama.*`` metadata, the weights under GGUF names (``token_embd``, ``blk.N.attn_q``, ...)
with the rotary permutation of q and k that llama.cpp applies (transformers' GGUF reader
undoes it), float32 tensors (the reader dequantises them to the requested dtype), and a
sentencepiece-style vocabulary (``tokenizer.ggml.model = "llama"``, tokens, scores, types) so
that ``AutoTokenizer.from_pretrained(folder, gguf_file=name)`` rebuilds the tokenizer.

:func:`char_vocabulary` is a character-level vocabulary (``<unk>``, ``<s>``, ``</s>``, the word
boundary ``\u2581`` and the characters of a text), enough for tests and the tiny trained LM.
Needs the ``gguf`` package (the ``hf`` extra).
"""

import numpy as np

__all__ = ["char_vocabulary", "write_llama_gguf"]

BOUNDARY = "\u2581"


def char_vocabulary(text: str) -> list[str]:
    """``<unk>``, ``<s>``, ``</s>``, then ``\u2581`` and every other character of ``text``, sorted."""
    chars = sorted(set(text.replace(" ", "")) - {BOUNDARY})
    return ["<unk>", "<s>", "</s>", BOUNDARY, *chars]


def _permute(w: np.ndarray, heads: int) -> np.ndarray:
    """llama.cpp's rotary permutation of a q/k projection (rows regrouped in pairs per head)."""
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2) \
        .reshape(w.shape)


def write_llama_gguf(model, path, tokens: list[str], *, arch: str = "llama",
                     name: str = "tiny-llama") -> None:
    """Write ``model`` (a transformers ``LlamaForCausalLM``) and ``tokens`` to ``path``."""
    import gguf

    cfg = model.config
    heads, kv = cfg.num_attention_heads, cfg.num_key_value_heads
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // heads
    if len(tokens) != cfg.vocab_size:
        raise ValueError(f"{len(tokens)} tokens for a vocabulary of {cfg.vocab_size}")
    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_name(name)
    writer.add_context_length(cfg.max_position_embeddings)
    writer.add_embedding_length(cfg.hidden_size)
    writer.add_block_count(cfg.num_hidden_layers)
    writer.add_feed_forward_length(cfg.intermediate_size)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv)
    writer.add_rope_dimension_count(head_dim)
    theta = (getattr(cfg, "rope_parameters", None) or {}).get("rope_theta") or \
        getattr(cfg, "rope_theta", 10000.0)
    writer.add_rope_freq_base(float(theta))
    writer.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    writer.add_vocab_size(cfg.vocab_size)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores([0.0] * len(tokens))
    writer.add_token_types([2, 3, 3] + [1] * (len(tokens) - 3))  # unknown, control, normal
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    names = {"model.embed_tokens.weight": "token_embd.weight",
             "model.norm.weight": "output_norm.weight", "lm_head.weight": "output.weight"}
    per_layer = {"input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
                 "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
                 "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
                 "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}
    tied = bool(getattr(cfg, "tie_word_embeddings", False))
    for key, value in model.state_dict().items():
        if tied and key == "lm_head.weight":
            continue
        w = value.detach().cpu().to(dtype=value.dtype).numpy().astype(np.float32)
        if key in names:
            target = names[key]
        else:
            parts = key.split(".")  # model.layers.N.<module>.<param>
            block, module, param = parts[2], ".".join(parts[3:-1]), parts[-1]
            if module not in per_layer:
                raise ValueError(f"no GGUF name for {key}")
            target = f"blk.{block}.{per_layer[module]}.{param}"
            if module == "self_attn.q_proj":
                w = _permute(w, heads)
            elif module == "self_attn.k_proj":
                w = _permute(w, kv)
        writer.add_tensor(target, w)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
