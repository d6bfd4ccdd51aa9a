"""A user's own model for `resdepth probe`: a small BERT from transformers, built offline.

    resdepth probe --model examples.mybert:make_bert --inputs examples.mybert:bert_inputs --out probe-bert

Nothing is downloaded: the model is built from its config with random weights. Replace
``make_bert`` with a function that returns your trained model (for example
``BertModel.from_pretrained(path)``) and ``bert_inputs`` with a batch of your data; or keep
the factory and pass your weights with ``--checkpoint model.safetensors``.
"""

import torch
import transformers


def make_bert() -> torch.nn.Module:
    """A 4-layer post-LN BERT of hidden size 32 (2 heads), random weights."""
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=4,
                                     num_attention_heads=2, intermediate_size=64,
                                     max_position_embeddings=64)
    return transformers.BertModel(config).eval()


def bert_inputs() -> dict:
    """Keyword inputs of the model: 8 sequences of 12 token ids."""
    generator = torch.Generator().manual_seed(1)
    return {"input_ids": torch.randint(0, 100, (8, 12), generator=generator)}
