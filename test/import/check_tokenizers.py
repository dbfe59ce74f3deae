#!/usr/bin/env python3
"""llmc's tokenizers against the reference implementations: Hugging Face
`tokenizers` (byte-level BPE with GPT-2 and Llama 3 pre-tokenization,
sentencepiece-style BPE with byte fallback), `sentencepiece` (.model), and
GGUF-embedded vocabularies (llama/SPM and gpt2/BPE) built from those.
Each tokenizer is trained here on a small corpus; encodings must be equal
and decoding must round-trip. Prints `ok <case>` per tokenizer.
"""
import argparse
import io
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import modelgen  # noqa: E402

CORPUS = [
    "Once upon a time, there was a little girl named Lily. She loved to play outside.",
    "The quick brown fox jumps over the lazy dog! It's 12:30 and we're late; they'll wait.",
    "Numbers: 3.14159, 2718, 1234567 and 42. Prices: $5.99, 100%.",
    "naïve café résumé — «quotes» über straße. Привет мир. 日本語のテキスト。",
    "def f(x):\n    return x ** 2  # comment\n\n\tindented\r\nwindows line",
    "I'm sure you've seen it; he'd say 'hello' & she'd said \"bye\".",
] * 20

TEXTS = [
    "Once upon a time",
    "Hello, world! It's a test: I'm, you're, we've, they'll, he'd.",
    "  leading spaces and   multiple   spaces  ",
    "numbers 1 12 123 1234 12345 3.14",
    "line one\nline two\n\n  indented\r\n",
    "naïve café 日本語 Привет",
    "emoji 🙂 and symbols ©®™ ±×÷",
    "MiXeD CaSe 'S 'T 'RE",
    "",
]

LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                  r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")


def llmc_encode(llmc, tok, text):
    p = subprocess.run([llmc, "tokenize", "--no-bos", "--tokenizer", tok, "--", text],
                       capture_output=True, text=True)
    if p.returncode:
        raise SystemExit(f"FAIL: llmc tokenize {tok}: {p.stderr}")
    return [int(x) for x in p.stdout.split()]


def llmc_decode(llmc, tok, ids):
    if not ids:
        return ""
    # Bytes, not text mode: universal newlines would turn "\r\n" into "\n".
    p = subprocess.run([llmc, "tokenize", "--tokenizer", tok, "--decode", *map(str, ids)],
                       capture_output=True)
    if p.returncode:
        raise SystemExit(f"FAIL: llmc tokenize --decode {tok}: {p.stderr.decode()}")
    return p.stdout[:-1].decode("utf-8", "replace")  # drop llmc's newline


def compare(case, llmc, tok, reference, texts=TEXTS, roundtrip=True):
    bad = 0
    for text in texts:
        want = reference(text)
        got = llmc_encode(llmc, tok, text)
        if got != want:
            bad += 1
            print(f"FAIL {case}: {text!r}\n  want {want}\n  got  {got}")
            continue
        if roundtrip:
            back = llmc_decode(llmc, tok, got)
            if back != text:
                bad += 1
                print(f"FAIL {case}: decode {text!r} gave {back!r}")
    if not bad:
        print(f"ok {case}: {len(texts)} texts")
    return bad


def train_byte_level(path, llama3):
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE(ignore_merges=llama3))
    if llama3:
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    else:
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS, trainer)
    tok.save(path)
    return tok


def train_spm_style(path):
    """Llama-2-style tokenizer.json: U+2581 spaces, dummy prefix, byte fallback."""
    from tokenizers import Tokenizer, decoders, models, normalizers, trainers
    tok = Tokenizer(models.BPE(byte_fallback=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"),
                                           normalizers.Replace(" ", "▁")])
    tok.train_from_iterator(CORPUS, trainers.BpeTrainer(vocab_size=500, special_tokens=["<unk>", "<s>", "</s>"]))
    j = json.loads(tok.to_str())
    vocab = j["model"]["vocab"]
    for b in range(256):  # byte-fallback pieces are ordinary vocabulary entries
        vocab.setdefault(f"<0x{b:02X}>", len(vocab))
    j["decoder"] = {"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
        {"type": "ByteFallback"}, {"type": "Fuse"},
        {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}
    text = json.dumps(j)
    open(path, "w").write(text)
    return Tokenizer.from_str(text)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--llmc", required=True)
    ap.add_argument("--tmp", required=True)
    args = ap.parse_args()
    os.makedirs(args.tmp, exist_ok=True)
    t = lambda n: os.path.join(args.tmp, n)
    bad = 0

    for name, llama3 in (("hf-bytelevel-gpt2", False), ("hf-bytelevel-llama3", True)):
        path = t(name + ".json")
        ref = train_byte_level(path, llama3)
        bad += compare(name, args.llmc, path,
                       lambda s: ref.encode(s, add_special_tokens=False).ids)
        # The same vocabulary embedded in GGUF as a gpt2 tokenizer.
        j = json.loads(open(path).read())
        vocab = j["model"]["vocab"]
        tokens = [None] * len(vocab)
        for piece, i in vocab.items():
            tokens[i] = piece
        merges = [m if isinstance(m, str) else " ".join(m) for m in j["model"]["merges"]]

        def add_gpt2(w, tokens=tokens, merges=merges, llama3=llama3):
            w.add_tokenizer_model("gpt2")
            w.add_tokenizer_pre("llama-bpe" if llama3 else "gpt2")
            w.add_token_list(tokens)
            w.add_token_merges(merges)
            w.add_token_types([3 if p == "<|endoftext|>" else 1 for p in tokens])
        gg = t(name + ".gguf")
        modelgen.write_gguf(gg, tokenizer=add_gpt2)
        bad += compare("gguf-gpt2-" + name, args.llmc, gg,
                       lambda s: ref.encode(s, add_special_tokens=False).ids)

    path = t("hf-spm-style.json")
    ref = train_spm_style(path)
    bad += compare("hf-sentencepiece-style", args.llmc, path,
                   lambda s: ref.encode(s, add_special_tokens=False).ids,
                   texts=[x for x in TEXTS if x and not x.startswith(" ")])

    import sentencepiece as spm
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(CORPUS), model_writer=model,
                                   model_type="bpe", vocab_size=400, byte_fallback=True,
                                   character_coverage=1.0, minloglevel=2,
                                   normalization_rule_name="identity",
                                   remove_extra_whitespaces=False)
    path = t("spm.model")
    open(path, "wb").write(model.getvalue())
    sp = spm.SentencePieceProcessor(model_file=path)
    # Trained without NFKC and whitespace folding (llama.cpp's SPM tokenizer
    # applies neither). A leading space merges into the dummy prefix.
    plain = [x for x in TEXTS if x and not x.startswith(" ")]
    bad += compare("sentencepiece-model", args.llmc, path, lambda s: sp.encode(s), texts=plain)

    def add_llama(w):
        w.add_tokenizer_model("llama")
        w.add_token_list([sp.id_to_piece(i) for i in range(sp.get_piece_size())])
        w.add_token_scores([sp.get_score(i) for i in range(sp.get_piece_size())])
        w.add_token_types([3 if sp.is_control(i) else 6 if sp.is_byte(i) else 2 if sp.is_unknown(i) else 1
                           for i in range(sp.get_piece_size())])
        w.add_bos_token_id(sp.bos_id())
        w.add_eos_token_id(sp.eos_id())
    gg = t("spm.gguf")
    modelgen.write_gguf(gg, tokenizer=add_llama)
    bad += compare("gguf-llama-spm", args.llmc, gg, lambda s: sp.encode(s), texts=plain)
    print(f"{bad} failures")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
