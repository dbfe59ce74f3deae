"""The Python bindings against the llmc tools: generation equals `llmc run`,
forward logits equal `--dump-logits`, IR round-trips through `opt`, every
documented error path raises its exception."""

import os
import threading

import numpy as np
import pytest

import llmc
from conftest import ROOT, run, tool

PROMPT = "Once upon a time"


def llmc_run(artifact, *args):
    return run(tool("llmc"), "run", artifact, *args).stdout


# --- generation and logits -------------------------------------------------

def test_greedy_generation_equals_llmc_run(stories_artifact):
    model = llmc.load(stories_artifact.path)
    text = "".join(model.generate(PROMPT, max_new_tokens=256))
    expected = llmc_run(stories_artifact.path, "--prompt", PROMPT, "-n", "256")
    assert (PROMPT + text + "\n").encode() == expected
    assert text.startswith(", there was a little girl named Lily.")


def test_sampled_generation_equals_llmc_run(stories_artifact):
    model = llmc.load(stories_artifact.path)
    pieces = list(model.generate("", max_new_tokens=100, temperature=0.8,
                                 top_k=40, top_p=0.9, seed=7))
    assert len(pieces) > 10
    expected = llmc_run(stories_artifact.path, "-n", "100", "--temp", "0.8",
                        "--top-k", "40", "--top-p", "0.9", "--seed", "7")
    assert ("".join(pieces) + "\n").encode() == expected


def test_forward_equals_dump_logits(stories_artifact, tmp_path):
    dump = tmp_path / "logits.f32"
    out = llmc_run(stories_artifact.path, "--prompt", PROMPT, "-n", "8",
                   "--dump-logits", dump)
    model = llmc.load(stories_artifact.path)
    vocab = model.info["vocab_size"]
    ref = np.fromfile(dump, dtype=np.float32).reshape(-1, vocab)
    ids = model.tokenizer.encode(PROMPT)
    session = model.session()
    rows = [session.forward(ids)]
    assert rows[0].shape == (len(ids), vocab) and rows[0].dtype == np.float32
    # Feed the greedy continuation one token at a time, as llmc run did.
    token = int(np.argmax(rows[0][-1]))
    generated = [token]
    for _ in range(7):
        rows.append(session.forward([token]))
        token = int(np.argmax(rows[-1][-1]))
        generated.append(token)
    got = np.concatenate(rows)
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-5)
    assert session.position == len(ids) + 7
    text = b"".join(model.tokenizer.decode_token(p, t) for p, t in
                    zip([ids[-1]] + generated, generated)).decode()
    assert out.decode() == PROMPT + text + "\n"


def test_forward_variants(stories_artifact):
    model = llmc.load(stories_artifact.path)
    ids = model.tokenizer.encode(PROMPT)
    full = model.session().forward(ids)
    s = model.session(max_context=64)
    last = s.forward(np.array(ids, dtype=np.int64), last_only=True)
    assert last.shape == (1, model.info["vocab_size"])
    np.testing.assert_allclose(last[0], full[-1], rtol=0, atol=1e-5)
    # Rewind to position 2 and run the rest again: the same rows.
    again = s.forward(ids[2:], start_pos=2)
    np.testing.assert_allclose(again, full[2:], rtol=0, atol=1e-5)
    # Zero-copy view: read-only, same values, valid until the next call.
    s.reset()
    view = s.forward(ids, copy=False)
    assert not view.flags.writeable
    np.testing.assert_array_equal(view, full)


def test_tokenizer_matches_llmc_tokenize(stories, stories_artifact):
    tok = llmc.load(stories_artifact.path).tokenizer
    ids = tok.encode("Hello world, said Lily.")
    out = run(tool("llmc"), "tokenize", "--tokenizer", stories[1],
              "Hello world, said Lily.").stdout.decode().split()
    assert ids == [int(i) for i in out]
    assert tok.decode(ids) == "Hello world, said Lily."
    assert tok.encode("Hi", bos=False)[0] != tok.bos_id
    assert tok.vocab_size == 512


def test_gil_released_during_forward(stories_artifact):
    model = llmc.load(stories_artifact.path)
    ids = model.tokenizer.encode(PROMPT)
    results = []

    def work():
        s = model.session()
        for _ in range(20):
            s.reset()
            results.append(s.forward(ids, last_only=True)[0, 0])

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 40 and len(set(results)) == 1


# --- IR: import, opt, compile ----------------------------------------------

def test_ir_round_trip_and_opt(stories, cache_dir):
    m = llmc.import_model(stories[0], tokenizer=stories[1])
    text = str(m)
    assert "llm.attention" in text and "func.func @forward" in text
    assert str(llmc.Module.parse(text)) == text
    opt = llmc.opt(text, "llm-optimize")
    assert "llm.flash" in str(opt) and "llm.flash" not in text
    assert str(llmc.opt(m, "builtin.module(llm-optimize)")) == str(opt)
    assert str(llmc.Module.parse(str(opt))) == str(opt)
    # The optimized module compiled at -O0 generates what the model
    # compiled at -O2 does.
    a = llmc.compile(opt, opt_level=0)
    b = llmc.compile(stories[0], tokenizer=stories[1], opt_level=2)
    assert os.path.dirname(a.path) == os.path.join(str(cache_dir), "llmc")
    ta = "".join(a.load().generate(PROMPT, 64))
    tb = "".join(b.load().generate(PROMPT, 64))
    assert ta == tb
    assert a.manifest["model"]["n_layers"] == 5


def test_quantized_compile_equals_cli(stories, tmp_path):
    art = llmc.compile(stories[0], tokenizer=stories[1], quant="w8",
                       out=tmp_path / "w8.llmc")
    assert art.manifest["target"]["quant"] == "w8"
    cli = tmp_path / "cli.llmc"
    run(tool("llmc"), "compile", stories[0], "--tokenizer", stories[1],
        "--quant", "w8", "-o", cli)
    text = "".join(art.load().generate(PROMPT, 48))
    assert llmc_run(cli, "--prompt", PROMPT, "-n", "48") == (PROMPT + text + "\n").encode()
    kept = llmc.compile(stories[0], quant="w4g32", quant_asymmetric=True,
                        quant_keep=["output", "tok_embeddings"], out=tmp_path / "k.llmc")
    dtypes = {t["name"]: t["dtype"] for t in kept.manifest["weights"]["tensors"]}
    assert "u4" in dtypes.values()
    assert not any("tok_embeddings" in n and d == "u4" for n, d in dtypes.items())


def test_block_and_clip_schemes(stories, tmp_path):
    # GGUF blocks packed at compile time, and the clipping search: both
    # recorded in the manifest, stored as blocks / int4, and the q4_0 model
    # agrees with the CLI-compiled one.
    q4 = llmc.compile(stories[0], tokenizer=stories[1], quant="q4_0",
                      out=tmp_path / "q4.llmc")
    assert q4.manifest["target"]["quant"] == "q4_0"
    assert "q4_0" in {t["dtype"] for t in q4.manifest["weights"]["tensors"]}
    cli = tmp_path / "q4cli.llmc"
    run(tool("llmc"), "compile", stories[0], "--tokenizer", stories[1],
        "--quant", "q4_0", "-o", cli)
    text = "".join(q4.load().generate(PROMPT, 32))
    assert llmc_run(cli, "--prompt", PROMPT, "-n", "32") == (PROMPT + text + "\n").encode()
    clip = llmc.compile(stories[0], quant="w4g32", quant_clip=True,
                        out=tmp_path / "c.llmc")
    assert clip.manifest["target"]["quant"] == "w4g32-clip"


def test_calibrated_dgq_and_int8_kv_cache(stories, tmp_path):
    # llmc calibrate's statistics drive dgq-a8w4 from Python as from the
    # CLI (same artifact text), and kv_cache="int8" stores an i8 cache.
    stats = tmp_path / "stats.json"
    run(tool("llmc"), "calibrate", stories[0], "--tokenizer", stories[1],
        "--text", os.path.join(ROOT, "test", "data", "stories260K-calib.txt"),
        "--ctx", "128", "-o", stats)
    dgq = llmc.compile(stories[0], tokenizer=stories[1], quant="dgq-a8w4g32",
                       calibration=stats, kv_cache="int8",
                       out=tmp_path / "dgq.llmc")
    assert dgq.manifest["target"]["quant"] == "dgq-a8w4g32"
    assert dgq.manifest["kv_cache"]["dtype"] == "i8"
    assert "dgq_a8w4" in {t["dtype"] for t in dgq.manifest["weights"]["tensors"]}
    cli = tmp_path / "dgqcli.llmc"
    run(tool("llmc"), "compile", stories[0], "--tokenizer", stories[1],
        "--quant", "dgq-a8w4g32", "--calibration", stats, "--kv-cache=int8",
        "-o", cli)
    text = "".join(dgq.load().generate(PROMPT, 32))
    assert llmc_run(cli, "--prompt", PROMPT, "-n", "32") == (PROMPT + text + "\n").encode()
    with pytest.raises(llmc.CompileError, match="kv-cache"):
        llmc.compile(stories[0], kv_cache="int4", out=tmp_path / "bad.llmc")


def test_two_models_in_one_process(stories, stories_artifact, tmp_path):
    # Each artifact runs its own code: loading a second one must not reuse
    # the first one's code object (a runtime bug once).
    w8 = llmc.compile(stories[0], tokenizer=stories[1], quant="w8",
                      out=tmp_path / "w8.llmc")
    a, b = llmc.load(stories_artifact.path), llmc.load(w8.path)
    ids = a.tokenizer.encode(PROMPT)
    la, lb = a.session().forward(ids), b.session().forward(ids)
    dump = tmp_path / "w8.f32"
    llmc_run(w8.path, "--prompt", PROMPT, "-n", "1", "--dump-logits", dump)
    ref = np.fromfile(dump, dtype=np.float32).reshape(-1, la.shape[1])
    np.testing.assert_allclose(lb, ref[:len(ids)], rtol=0, atol=1e-5)
    assert np.abs(la - lb).max() > 1e-4


def test_roofline_matches_cli(stories, tmp_path):
    rows = llmc.roofline(stories[0], hardware="nvidia-a100-80gb",
                         phase="prefill", seq=16)
    out = tmp_path / "r.json"
    run(tool("llmc"), "roofline", stories[0], "--hardware", "nvidia-a100-80gb",
        "--phase", "prefill", "--seq", "16", "-O2", "--json", out)
    import json
    cli = json.loads(out.read_text())["ops"]
    assert [(r["op"], r["weight"]) for r in rows] == \
        [(r["op"], r["weight"]) for r in cli]
    assert sum(r["flops"] for r in rows) == pytest.approx(sum(r["flops"] for r in cli))
    assert {r["bound"] for r in rows} <= {"memory", "compute"}
    assert max(r["layer"] for r in rows) == 4
    m = llmc.import_model(stories[0])
    assert len(llmc.roofline(m, opt_level=0)) > len(rows)


# --- errors ----------------------------------------------------------------

def test_import_errors(tmp_path):
    with pytest.raises(llmc.CompileError, match="nope.bin"):
        llmc.import_model(tmp_path / "nope.bin")
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"\x01\x02")
    with pytest.raises(llmc.CompileError, match="bad.bin"):
        llmc.import_model(bad)


def test_parse_and_opt_errors():
    with pytest.raises(llmc.CompileError, match="<text>:1:"):
        llmc.Module.parse("func.func @f( {")
    with pytest.raises(llmc.CompileError, match="could not be parsed"):
        llmc.opt("not ir", "canonicalize")
    m = llmc.Module.parse("func.func @f(%x: f32) -> f32 { return %x : f32 }")
    with pytest.raises(llmc.CompileError, match="no-such-pass"):
        llmc.opt(m, "no-such-pass")
    with pytest.raises(llmc.CompileError, match="unbalanced"):
        llmc.opt(m, "builtin.module(canonicalize")
    with pytest.raises(TypeError):
        llmc.opt(42, "canonicalize")
    # A pass that fails reports its diagnostic with the location.
    bad = llmc.Module.parse(
        'func.func @f(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {\n'
        '  %w = llm.param "a" : tensor<4x4xf32>\n'
        '  %v = llm.param "a" : tensor<4x8xf32>\n'
        '  %y = llm.linear %x, %w : tensor<?x4xf32>, tensor<4x4xf32> -> tensor<?x4xf32>\n'
        '  return %y : tensor<?x4xf32>\n}')
    with pytest.raises(llmc.CompileError, match=r"<text>:3:.*weight 'a' is declared"):
        llmc.opt(bad, "llm-unify-params")
    assert str(llmc.opt(m, "canonicalize")).count("return") == 1


def test_early_exit_recompute_fills_pending_positions(stories,
                                                      stories_artifact,
                                                      tmp_path):
    """kv-policy=recompute: decode steps that exit after layer 1 leave their
    positions pending at layers 2-4; a later multi-token forward runs them
    through those layers first, so its logits equal the model without
    exits on the same tokens, also after a rewind into pending positions."""
    exits = llmc.compile(stories[0], tokenizer=stories[1],
                         early_exit="layers=1 metric=max-prob threshold=0 "
                                    "kv-policy=recompute",
                         out=tmp_path / "recompute.llmc")
    assert exits.manifest["kv_cache"]["state_layers"] > 0
    s = exits.load().session()
    r = llmc.load(stories_artifact.path).session()
    prompt = [1, 403, 407, 261, 431]
    np.testing.assert_allclose(s.forward(prompt), r.forward(prompt), atol=1e-5)
    for t in (45, 300, 17):  # exit at layer 1: not the full model's logits
        assert np.abs(s.forward([t]) - r.forward([t])).max() > 1e-2
    chunk = [80, 81, 82, 83]
    np.testing.assert_allclose(s.forward(chunk), r.forward(chunk), atol=1e-4)
    for t in (45, 300, 17):
        s.forward([t])
        r.forward([t])
    # Rewind to the second of three pending positions: the first is run
    # through the skipped layers, the others are forgotten.
    at = len(prompt) + 3 + len(chunk) + 1
    np.testing.assert_allclose(s.forward(chunk, start_pos=at),
                               r.forward(chunk, start_pos=at), atol=1e-4)
    s.reset()
    r.reset()
    np.testing.assert_allclose(s.forward(prompt), r.forward(prompt), atol=1e-5)


def test_compile_errors(stories, tmp_path):
    with pytest.raises(llmc.CompileError, match="unknown scheme 'w3'"):
        llmc.compile(stories[0], quant="w3", out=tmp_path / "q.llmc")
    with pytest.raises(llmc.CompileError, match="layer 4 has no later layer"):
        llmc.compile(stories[0], early_exit="layers=4", out=tmp_path / "x.llmc")
    with pytest.raises(llmc.CompileError, match="target 'tpu' is not supported"):
        llmc.compile(stories[0], target="tpu", out=tmp_path / "x.llmc")
    with pytest.raises(llmc.CompileError, match="unknown CUDA architecture 'sm_70'"):
        llmc.compile(stories[0], target="cuda", cuda_arch="sm_70",
                     out=tmp_path / "x.llmc")
    with pytest.raises(llmc.CompileError, match="0..3"):
        llmc.compile(stories[0], opt_level=7, out=tmp_path / "x.llmc")
    with pytest.raises(llmc.CompileError, match="no-dir"):
        llmc.compile(stories[0], out=tmp_path / "no-dir" / "x.llmc")
    assert not (tmp_path / "x.llmc").exists()
    m = llmc.Module.parse("func.func @f() { return }")
    with pytest.raises(llmc.CompileError, match="llm.model"):
        llmc.compile(m, out=tmp_path / "y.llmc")
    with pytest.raises(llmc.CompileError, match="hardware"):
        llmc.roofline(stories[0], hardware="no-such-gpu")


def test_runtime_errors(stories_artifact, tmp_path):
    with pytest.raises(llmc.RunError) as e:
        llmc.load(tmp_path / "missing.llmc")
    assert e.value.code == "io_error" and "missing.llmc" in str(e.value)
    junk = tmp_path / "junk.llmc"
    junk.write_bytes(b"not an artifact at all" * 10)
    with pytest.raises(llmc.RunError) as e:
        llmc.load(junk)
    assert e.value.code == "bad_artifact"
    with pytest.raises(llmc.RunError) as e:
        llmc.load(stories_artifact.path, device="cuda")
    assert e.value.code == "unsupported" and "compiled for cpu" in str(e.value)
    with pytest.raises(llmc.RunError) as e:
        llmc.load(stories_artifact.path, device="tpu")
    assert e.value.code == "invalid_argument"

    model = llmc.load(stories_artifact.path)
    s = model.session(max_context=8)
    with pytest.raises(llmc.RunError) as e:
        s.forward([1, 100000])
    assert e.value.code == "invalid_argument" and "100000" in str(e.value)
    assert s.position == 0
    with pytest.raises(llmc.RunError) as e:
        s.forward(list(range(1, 10)))
    assert e.value.code == "out_of_range"
    with pytest.raises(llmc.RunError) as e:
        s.forward([])
    assert e.value.code == "invalid_argument"
    s.forward([1, 2])
    with pytest.raises(llmc.RunError) as e:
        s.forward([3], start_pos=5)
    assert e.value.code == "out_of_range"
    with pytest.raises(llmc.RunError) as e:
        model.session(max_context=100000)
    assert e.value.code == "out_of_range"
    with pytest.raises(llmc.RunError):
        next(model.generate(PROMPT, max_new_tokens=0))


def test_cuda_target_without_gpu(stories, tmp_path, monkeypatch):
    """A CUDA artifact compiles anywhere (PTX and cubins); without a driver
    the first session says so."""
    art = llmc.compile(stories[0], target="cuda", cuda_arch="sm_80,sm_90",
                       out=tmp_path / "cu.llmc")
    target = art.manifest["target"]
    assert target["kind"] == "cuda"
    assert target["cuda"]["archs"] == ["sm_80", "sm_90"]
    with pytest.raises(llmc.RunError) as e:
        llmc.load(art.path)  # device defaults to cpu
    assert "compiled for cuda" in str(e.value)
    monkeypatch.setenv("LLMC_CUDA_LIBRARY", "/nonexistent/libcuda.so.1")
    model = llmc.load(art.path, device="cuda")
    with pytest.raises(llmc.RunError) as e:
        model.session()
    assert e.value.code == "unsupported" and "no CUDA driver" in str(e.value)
