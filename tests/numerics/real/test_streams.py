"""A block that reads a second stream (numerics.real.streams): a transformers encoder-decoder's
decoder, traced alone with the encoder output as an input, splits exactly with that output held
fixed and named; the whole encoder-decoder is refused in one line (R2, real architectures)."""

import pytest
import torch

from numerics.models.tiny_llm import redraw_
from numerics.real.frozen import enumerate_frozen_paths, frozen_spectrum, trace_model

transformers = pytest.importorskip("transformers")

TOL = 1e-12


def _bart():
    config = transformers.BartConfig(
        vocab_size=50, d_model=16, encoder_layers=2, decoder_layers=2,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32,
        decoder_ffn_dim=32, max_position_embeddings=32)
    return transformers.BartModel(config)


def _t5():
    config = transformers.T5Config(
        vocab_size=50, d_model=16, d_kv=8, d_ff=32, num_layers=2, num_decoder_layers=2,
        num_heads=2, relative_attention_num_buckets=8, relative_attention_max_distance=16,
        decoder_start_token_id=0)
    return transformers.T5Model(config)


def _model(build):
    torch.manual_seed(0)
    model = build().double().eval()
    return redraw_(model, torch.Generator().manual_seed(0))


IDS = torch.randint(0, 50, (2, 5), generator=torch.Generator().manual_seed(1))
DECODER_IDS = torch.randint(0, 50, (2, 4), generator=torch.Generator().manual_seed(2))


@pytest.mark.parametrize("build", [_bart, _t5], ids=["bart", "t5"])
def test_R2_a_decoder_reading_the_encoder_output_splits_exactly_with_it_held_fixed(build):
    model = _model(build)
    with torch.no_grad():
        encoded = model.get_encoder()(input_ids=IDS).last_hidden_state
    decoder = model.get_decoder()
    traced = trace_model(decoder, (), {"input_ids": DECODER_IDS,
                                       "encoder_hidden_states": encoded})
    assert len(traced.blocks) == 6  # self-attention, cross-attention, MLP per layer
    spectrum = frozen_spectrum(traced)
    assert spectrum.max_rel_error() <= TOL
    paths, lengths = enumerate_frozen_paths(traced)
    summed = torch.zeros_like(spectrum.terms).index_add_(0, lengths, paths)
    assert float((summed - spectrum.terms).norm() / spectrum.output.norm()) <= TOL
    (note,) = [n for n in traced.captured.notes if n.startswith("second stream")]
    assert "encoder_hidden_states" in note and "held fixed" in note
    cross = "encoder_attn" if build is _bart else "EncDecAttention"
    assert f"layers.0.{cross}" in note or f"block.0.layer.1.{cross}" in note
    # the note is no decoration: the encoder output does move the decoder's output
    with torch.no_grad():
        moved = decoder(input_ids=DECODER_IDS,
                        encoder_hidden_states=1.5 * encoded).last_hidden_state
    assert float((moved - traced.output).norm() / traced.output.norm()) > 1e-3


@pytest.mark.parametrize("build", [_bart, _t5], ids=["bart", "t5"])
def test_R2_a_whole_encoder_decoder_is_refused_in_one_line(build):
    with pytest.raises(ValueError) as caught:
        trace_model(_model(build), (), {"input_ids": IDS, "decoder_input_ids": DECODER_IDS})
    message = str(caught.value)
    assert "second residual stream computed inside the model" in message
    assert "get_decoder()" in message and "\n" not in message
