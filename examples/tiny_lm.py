"""A tiny Llama trained briefly on a generated text, written as a GGUF file (issue 23's closing
note: the spectrum of the logits against that of the stream, on weights that are not random).

    python examples/tiny_lm.py OUT_DIR            # trains (~1 min on 2 cores), writes OUT_DIR/tiny.gguf
    resdepth spectrum --model gguf:OUT_DIR/tiny.gguf --text "the cat sat on" --output logits

The text is generated from a small grammar with a fixed seed ("the cat sat on the mat . a dog
saw the cat . ..."), tokenised by characters; the model is a 3-layer LlamaForCausalLM (d = 32,
4 heads, 2 key-value heads, SwiGLU 64, tied embeddings), trained with AdamW in float32 for
``steps`` steps on random 32-character windows. Nothing is downloaded.
"""

import random
import sys
from pathlib import Path

import torch

SUBJECTS = ["the cat", "a dog", "the bird", "my friend", "the old man", "a child"]
VERBS = ["sat on", "saw", "liked", "ran to", "looked at", "found"]
OBJECTS = ["the mat", "the cat", "a tree", "the house", "a red ball", "the river"]


def generated_text(sentences: int = 2000, seed: int = 0) -> str:
    """Sentences "subject verb object ." drawn from the grammar above."""
    rng = random.Random(seed)
    return " ".join(f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} ."
                    for _ in range(sentences))


def train_tiny_lm(steps: int = 400, seed: int = 0):
    """(model in float64 and eval mode, vocabulary, final training loss)."""
    import transformers

    from numerics.models.gguf_file import BOUNDARY, char_vocabulary

    text = generated_text(seed=seed)
    vocab = char_vocabulary(text)
    index = {c: i for i, c in enumerate(vocab)}
    ids = torch.tensor([index[c] if c != " " else index[BOUNDARY] for c in text])
    config = transformers.LlamaConfig(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
        num_key_value_heads=2, intermediate_size=64, max_position_embeddings=128,
        tie_word_embeddings=True)
    torch.manual_seed(seed)
    model = transformers.LlamaForCausalLM(config)
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(seed)
    loss = torch.tensor(float("nan"))
    for _ in range(steps):
        starts = torch.randint(0, len(ids) - 33, (32,), generator=generator)
        batch = torch.stack([ids[s:s + 33] for s in starts.tolist()])
        loss = model(batch[:, :-1], labels=batch[:, :-1]).loss
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return model.double().eval(), vocab, float(loss.detach())


def main(out: str) -> int:
    from numerics.models.gguf_file import write_llama_gguf

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    model, vocab, loss = train_tiny_lm()
    write_llama_gguf(model, folder / "tiny.gguf", vocab, name="tiny-trained-llama")
    print(f"trained: final loss {loss:.3f} nats/char; wrote {folder / 'tiny.gguf'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "tiny-lm"))
