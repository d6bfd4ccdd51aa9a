"""Local checkpoints (``--model hf:DIR``, ``--model gguf:FILE``, ``--text``) and
``spectrum --output logits`` (R2: next-token logits split exactly by path length). Every file
is written here (a tiny Llama, its tokenizer, a GGUF file); nothing is downloaded."""

import json

import pytest
import torch

from resdepth.cli import main

transformers = pytest.importorskip("transformers", reason="the hf extra is not installed")
gguf = pytest.importorskip("gguf", reason="the hf extra (gguf) is not installed")

from numerics.models.gguf_file import char_vocabulary, write_llama_gguf  # noqa: E402
from numerics.models.tiny_llm import tiny_causal_lm  # noqa: E402

TEXT = "the cat sat on the mat"
WORDS = ["[UNK]", "the", "cat", "sat", "on", "mat", "a", "dog"]


def _tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers

    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    return transformers.PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]")


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hf-llama")
    model, _ = tiny_causal_lm("llama", vocab=len(WORDS))
    model.save_pretrained(folder)
    _tokenizer().save_pretrained(folder)
    return folder, model


@pytest.fixture(scope="module")
def gguf_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("gguf") / "tiny.gguf"
    vocab = char_vocabulary(TEXT)
    model, _ = tiny_causal_lm("llama", vocab=len(vocab), seed=3)
    write_llama_gguf(model, path, vocab)
    return path, model


def _spectrum(capsys, *argv):
    code = main(["spectrum", *argv, "--format", "json"])
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if code == 0 else captured.err.strip())


def _check_logits(payload, top_k):
    section = payload["logits"]
    assert payload["max_rel_error"] <= 1e-12
    assert section["max_rel_error_top"] <= 1e-12 and section["max_rel_error_all"] <= 1e-12
    assert section["stream_max_rel_error"] <= 1e-12
    for entry in section["positions"]:
        assert len(entry["tokens"]) == top_k and entry["logits"] == sorted(entry["logits"])[::-1]
        for logit, parts in zip(entry["logits"], entry["by_length"]):
            assert len(parts) == len(payload["blocks"]) + 1
            assert sum(parts) == pytest.approx(logit, abs=1e-12 * max(1, abs(logit)))
        assert sum(entry["diff_by_length"]) == pytest.approx(entry["diff"], abs=1e-12)
        assert entry["diff"] >= 0
    return section


def test_R2_hf_folder_text_and_logits_by_path_length(capsys, hf_dir, tmp_path):
    folder, model = hf_dir
    plot = tmp_path / "logits.png"
    code, payload = _spectrum(capsys, "--model", f"hf:{folder}", "--text", TEXT, "--output",
                              "logits", "--top-k", "2", "--plot", str(plot))
    assert code == 0, payload
    section = _check_logits(payload, 2)
    assert len(section["positions"]) == 6  # six words, one token each
    assert section["positions"][0]["token_text"][0] in WORDS
    ids = torch.tensor([[WORDS.index(w) for w in TEXT.split()]])
    with torch.no_grad():
        eager = model(ids).logits[0, -1]
    last = section["positions"][-1]
    assert last["tokens"][0] == int(eager.argmax())
    assert last["logits"][0] == pytest.approx(float(eager.max()), rel=1e-6)  # float32 islands
    assert plot.stat().st_size > 5000
    assert any("promoted to float64" in line for line in payload["dtype_islands"])


def test_R2_gguf_file_written_here_splits_its_logits(capsys, gguf_file):
    path, model = gguf_file
    code, payload = _spectrum(capsys, "--model", f"gguf:{path}", "--text", TEXT, "--output",
                              "logits")
    assert code == 0, payload
    section = _check_logits(payload, 3)
    assert len(section["positions"]) == len(TEXT) + 2  # <s>, the prefix space, the characters
    vocab = char_vocabulary(TEXT)
    ids = torch.tensor([[1, 3] + [vocab.index(c) if c != " " else 3 for c in TEXT]])
    with torch.no_grad():
        eager = model(ids).logits[0]
    got = torch.tensor([p["logits"][0] for p in section["positions"]], dtype=torch.float64)
    assert torch.allclose(got, eager.max(-1).values, rtol=1e-5)  # the file holds float32
    assert "diff_mean_path_length" in section and "stream_mean_path_length" in section


def test_markdown_names_the_logit_split(capsys, gguf_file):
    assert main(["spectrum", "--model", f"gguf:{gguf_file[0]}", "--text", "the mat",
                 "--output", "logits"]) == 0
    text = capsys.readouterr().out
    assert "Next-token logits by path length" in text and "top1 - top2" in text


def _error(capsys, *argv) -> str:
    code, err = _spectrum(capsys, *argv)
    assert code == 2 and "Traceback" not in err
    assert len(err.splitlines()) == 1
    return err


def test_bad_paths_give_one_line(capsys, tmp_path, hf_dir):
    assert "does not exist" in _error(capsys, "--model", f"gguf:{tmp_path / 'no.gguf'}",
                                      "--text", "x")
    assert "no config.json" in _error(capsys, "--model", f"hf:{tmp_path}", "--text", "x")
    (tmp_path / "fake.gguf").write_bytes(b"not a gguf file at all")
    assert "not a readable GGUF file" in _error(capsys, "--model",
                                                f"gguf:{tmp_path / 'fake.gguf'}", "--text", "x")
    assert "needs --text" in _error(capsys, "--model", f"hf:{hf_dir[0]}")


def test_unsupported_gguf_architecture_gives_one_line(capsys, tmp_path):
    path = tmp_path / "odd.gguf"
    writer = gguf.GGUFWriter(str(path), "resdepthnet")
    writer.add_token_list(["a", "b"])
    writer.add_tensor("token_embd.weight", torch.zeros(2, 4).numpy())
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    err = _error(capsys, "--model", f"gguf:{path}", "--text", "a")
    assert "'resdepthnet' is not supported" in err


def test_non_causal_model_with_output_logits_gives_one_line(capsys, tmp_path):
    folder = tmp_path / "bert"
    config = transformers.BertConfig(vocab_size=len(WORDS), hidden_size=16, num_hidden_layers=1,
                                     num_attention_heads=2, intermediate_size=32)
    transformers.BertForMaskedLM(config).save_pretrained(folder)
    _tokenizer().save_pretrained(folder)
    err = _error(capsys, "--model", f"hf:{folder}", "--text", "the cat", "--output", "logits")
    assert "BertForMaskedLM is not one" in err


def test_R2_kept_float32_islands_widen_the_exact_tolerance(capsys, hf_dir):
    folder, _ = hf_dir
    code, payload = _spectrum(capsys, "--model", f"hf:{folder}", "--text", TEXT,
                              "--keep-dtypes")
    assert code == 0, payload
    assert payload["exact_tol"] == pytest.approx(1e3 * torch.finfo(torch.float32).eps)
    assert any("input_layernorm" in i and "kept below float64" in i
               for i in payload["dtype_islands"])
    assert 1e-10 < payload["max_rel_error"] <= payload["exact_tol"]
    assert payload["warning"] is None


@pytest.mark.slow
def test_R2_R5_probe_exact_rows_pass_in_float64_and_never_fail_on_kept_islands(hf_dir, tmp_path):
    folder, _ = hf_dir
    verdicts = {}
    for flag in ([], ["--keep-dtypes"]):
        out = tmp_path / ("kept" if flag else "promoted")
        main(["probe", "--model", f"hf:{folder}", "--text", TEXT, *flag, "--out", str(out)])
        rows = json.loads((out / "results.json").read_text())["rows"]
        verdicts[bool(flag)] = [r["verdict"] for r in rows
                                if r["kind"] == "exact" and r["label"] in ("R2", "R5")]
    assert verdicts[False] == ["pass"] * 3
    assert len(verdicts[True]) == 3 and "fail" not in verdicts[True]  # 1.2e-4: inconclusive
    assert "kept below float64" in (tmp_path / "kept" / "report.md").read_text()
