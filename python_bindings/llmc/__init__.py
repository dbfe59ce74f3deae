"""llmc: an MLIR-based ahead-of-time compiler for transformer LLMs.

Import a model into the ``llm`` dialect, transform it with any llmc-opt pass
pipeline, compile it into a ``.llmc`` artifact, load the artifact and run it::

    import llmc
    m = llmc.import_model("stories260K.bin", tokenizer="tok512.bin")
    art = llmc.compile(m, opt_level=2, out="stories.llmc")
    model = llmc.load(art.path)
    print("".join(model.generate("Once upon a time", max_new_tokens=32)))
    logits = model.session().forward(model.tokenizer.encode("Hello"))

Errors are :class:`CompileError` (compiler side) and :class:`RunError`
(runtime side), both :class:`Error`. The GIL is released while compiling,
optimizing and running forward steps.
"""

from __future__ import annotations

import codecs
import json
import os
import sys
from typing import Iterator, List, Optional, Sequence, Union

import numpy as np

from . import _llmc
from .errors import CompileError, Error, RunError

__all__ = [
    "Artifact", "CompileError", "Error", "Model", "Module", "RunError",
    "Session", "Tokenizer", "compile", "import_model", "load", "opt",
    "roofline",
]

PathLike = Union[str, "os.PathLike[str]"]


class Module:
    """An llm-dialect module (``str(module)`` is its IR text)."""

    def __init__(self, handle: "_llmc.Module"):
        self._handle = handle

    def __str__(self) -> str:
        return str(self._handle)

    def __repr__(self) -> str:
        return f"<llmc.Module: {len(str(self).splitlines())} lines of IR>"

    @classmethod
    def parse(cls, text: str) -> "Module":
        """Parses IR text; raises CompileError with the diagnostics."""
        return cls(_llmc.parse(text))


def import_model(path: PathLike, tokenizer: Optional[PathLike] = None) -> Module:
    """Imports a model (llama2.c ``.bin``, Hugging Face directory, GGUF file)
    into the ``llm`` dialect. ``tokenizer`` overrides the model's own."""
    return Module(_llmc.import_model(os.fspath(path),
                                     os.fspath(tokenizer) if tokenizer else ""))


def _module(module_or_text: Union[Module, str]) -> Module:
    if isinstance(module_or_text, Module):
        return module_or_text
    if isinstance(module_or_text, str):
        return Module.parse(module_or_text)
    raise TypeError("expected an llmc.Module or IR text, not "
                    f"{type(module_or_text).__name__}")


def opt(module_or_text: Union[Module, str], pipeline: str) -> Module:
    """Runs a pass pipeline (anything ``llmc-opt --pass-pipeline`` accepts,
    with or without the ``builtin.module(...)`` anchor, e.g.
    ``"llm-optimize"`` or ``"llm-fuse-qkv,canonicalize"``) on a copy of the
    module and returns the result. Failures raise CompileError with the MLIR
    diagnostics."""
    return Module(_llmc.opt(_module(module_or_text)._handle, pipeline))


class Artifact:
    """A compiled ``.llmc`` file."""

    def __init__(self, path: str):
        self.path = path

    @property
    def manifest(self) -> dict:
        """The artifact's manifest (model, target, weights, tokenizer)."""
        return json.loads(_llmc.Artifact(self.path).manifest)

    def load(self, device: str = "cpu") -> "Model":
        return load(self.path, device)

    def __repr__(self) -> str:
        return f"<llmc.Artifact {self.path}>"


def compile(model: Union[Module, PathLike], target: str = "cpu",
            quant: Optional[str] = None, early_exit: Optional[str] = None,
            opt_level: int = 2, out: Optional[PathLike] = None, *,
            cpu: str = "native", tokenizer: Optional[PathLike] = None,
            decode_splits: int = 2, softmax: str = "unified",
            llm_optimize: bool = True, quant_asymmetric: bool = False,
            quant_clip: bool = False, quant_keep: Sequence[str] = (),
            calibration: Optional[PathLike] = None, kv_cache: str = "f32",
            skip_layers: Sequence[int] = (), cuda_arch: str = "sm_80",
            progress: Optional[bool] = None) -> Artifact:
    """Compiles a model (a path, a ``.mlir`` file or a :class:`Module`) into
    an artifact at ``out``, or into the compile cache (``~/.cache/llmc``)
    when ``out`` is None. ``opt_level`` 0 runs no llm-dialect passes, 1
    fuses, 2-3 also select flash attention (as ``llmc compile -O``).
    ``progress`` (default: stderr is a terminal) prints compile stages.

    ``quant`` quantizes the linear layers' weights (``"w8"``, ``"w4g32"``,
    ``"w4g64"``, ``"w4g128"``, any ``"wNgG"``, the GGUF blocks
    ``"q8_0"`` / ``"q4_0"``, ``"gqsa-w4s50"`` or ``"dgq-a8w4"`` /
    ``"dgq-a8w4gG"``; ``quant_asymmetric`` adds zero points,
    ``quant_clip`` searches each group's clipping, ``quant_keep`` lists
    weight-name substrings kept in float, ``calibration`` is an
    ``llmc calibrate`` statistics file for dgq / gqsa; see
    docs/quantization.md). ``kv_cache="int8"`` stores the KV cache as int8
    with a scale per head and position. ``early_exit`` inserts early-exit
    heads (the options of ``llmc compile --early-exit``, e.g.
    ``"layers=1,3 metric=max-prob threshold=0.9 kv-policy=recompute"``);
    ``skip_layers`` removes layers (``--skip-layers``); see
    docs/early-exit.md. ``target`` is ``"cpu"``, ``"vulkan"`` or
    ``"cuda"``; ``cuda_arch`` lists the GPU architectures a CUDA artifact
    embeds (``"sm_80,sm_90"``; see docs/cuda.md).
    """
    if progress is None:
        progress = sys.stderr.isatty()
    args = dict(out=os.fspath(out) if out else "", target=target, cpu=cpu,
                opt_level=int(opt_level), llm_optimize=bool(llm_optimize),
                decode_splits=int(decode_splits), softmax=softmax,
                tokenizer=os.fspath(tokenizer) if tokenizer else "",
                progress=bool(progress), quant=quant or "",
                quant_asymmetric=bool(quant_asymmetric),
                quant_clip=bool(quant_clip),
                quant_keep=[str(k) for k in quant_keep],
                calibration=os.fspath(calibration) if calibration else "",
                kv_cache=kv_cache, early_exit=early_exit or "",
                skip_layers=[int(l) for l in skip_layers],
                cuda_arch=cuda_arch)
    target_model = model._handle if isinstance(model, Module) else os.fspath(model)
    return Artifact(_llmc.compile(target_model, **args))


class Tokenizer:
    """The tokenizer an artifact carries."""

    def __init__(self, handle: "_llmc.Tokenizer", bos_id: int, eos_id: int):
        self._handle = handle
        self.bos_id = bos_id
        self.eos_id = eos_id

    @property
    def vocab_size(self) -> int:
        return self._handle.vocab_size

    def encode(self, text: str, bos: bool = True) -> List[int]:
        """Token ids of ``text``, with the BOS token first when ``bos``."""
        return self._handle.encode(text, bos)

    def decode(self, ids: Sequence[int]) -> str:
        """The text of ``ids`` (invalid UTF-8 replaced by U+FFFD)."""
        return self._handle.decode([int(i) for i in ids]).decode(
            "utf-8", errors="replace")

    def decode_token(self, prev: int, token: int) -> bytes:
        """The bytes ``token`` adds after ``prev`` (-1 at the start): may end
        inside a UTF-8 sequence, which the next piece completes."""
        return self._handle.decode_token(int(prev), int(token))


def _tokens(tokens: Union[Sequence[int], np.ndarray]) -> np.ndarray:
    arr = np.ascontiguousarray(np.asarray(tokens), dtype=np.int32)
    if arr.ndim != 1 or arr.size == 0:
        raise RunError("tokens must be a non-empty 1-D sequence of ids",
                       "invalid_argument")
    return arr


class Session:
    """A generation context with its own KV cache."""

    def __init__(self, model: "Model", max_context: int = 0):
        self.model = model
        self._s = _llmc.Session(model._artifact, int(max_context))

    @property
    def position(self) -> int:
        """Positions consumed so far."""
        return self._s.position

    def reset(self) -> None:
        """Forgets every position."""
        self._s.reset()

    def forward(self, tokens: Union[Sequence[int], np.ndarray],
                start_pos: Optional[int] = None, *, last_only: bool = False,
                copy: bool = True) -> np.ndarray:
        """Runs ``tokens`` at ``start_pos`` (default: the current position;
        an earlier position forgets everything from there on) and returns
        the logits, ``[len(tokens), vocab]`` float32 (``[1, vocab]`` with
        ``last_only``). ``copy=False`` returns a zero-copy read-only view of
        the runtime's buffer, valid until the next call on this session.
        A bad token id or a context overflow raises RunError and leaves the
        session unchanged."""
        arr = _tokens(tokens)
        if start_pos is not None and start_pos != self._s.position:
            self._s.rewind(int(start_pos))
        return self._s.forward(arr, bool(last_only), bool(copy))

    def generate(self, prompt: str, max_new_tokens: int = 256,
                 temperature: float = 0.0, top_k: int = 0, top_p: float = 1.0,
                 seed: int = 0) -> Iterator[str]:
        """Streams the text pieces generated after ``prompt`` (encoded with
        BOS), continuing at the current position, exactly as ``llmc run``
        does: sampling with temperature (0 = greedy), top-k and top-p from
        ``seed``; a generated BOS or EOS ends the stream."""
        if max_new_tokens < 1:
            raise RunError("max_new_tokens must be at least 1",
                           "invalid_argument")
        tok = self.model.tokenizer
        ids = tok.encode(prompt, True)
        if not ids:
            raise RunError("the prompt encodes to no tokens and the "
                           "tokenizer has no BOS", "invalid_argument")
        sampler = _llmc.Sampler(float(temperature), int(top_k), float(top_p),
                                int(seed))
        info = self.model.info
        utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        last = self._s.forward(_tokens(ids), True, False)[0]
        token = ids[-1]
        for generated in range(max_new_tokens):
            nxt = sampler.sample(last)
            if nxt in (info["bos_id"], info["eos_id"]):
                break
            piece = utf8.decode(tok.decode_token(token, nxt))
            if piece:
                yield piece
            token = nxt
            if generated + 1 == max_new_tokens:
                break
            last = self._s.forward(np.array([token], dtype=np.int32), False,
                                   False)[0]
        tail = utf8.decode(b"", final=True)
        if tail:
            yield tail


class Model:
    """A loaded artifact: its facts, tokenizer and sessions."""

    def __init__(self, path: str, device: str = "cpu"):
        if device not in ("cpu", "vulkan", "cuda"):
            raise RunError(f"unknown device '{device}' (cpu, vulkan, cuda)",
                           "invalid_argument")
        self.path = path
        self.device = device
        self._artifact = _llmc.Artifact(path)
        kind = self.manifest.get("target", {}).get("kind", "cpu")
        if kind != device:
            raise RunError(f"{path}: was compiled for {kind}, not device "
                           f"'{device}' (recompile with target='{device}')",
                           "unsupported")
        self.info = dict(self._artifact.info())
        self._tokenizer: Optional[Tokenizer] = None

    @property
    def manifest(self) -> dict:
        return json.loads(self._artifact.manifest)

    @property
    def tokenizer(self) -> Tokenizer:
        """The artifact's tokenizer; RunError if it carries none."""
        if self._tokenizer is None:
            fmt = (self.manifest.get("tokenizer") or {}).get("format", "none")
            data = (self._artifact.section("tokenizer") if fmt != "none"
                    else b"")
            self._tokenizer = Tokenizer(
                _llmc.parse_tokenizer(fmt, self.path, data),
                self.info["bos_id"], self.info["eos_id"])
        return self._tokenizer

    def session(self, max_context: int = 0) -> Session:
        """A new session with a KV cache of ``max_context`` positions (0 =
        the compiled maximum)."""
        return Session(self, max_context)

    def generate(self, prompt: str, max_new_tokens: int = 256,
                 temperature: float = 0.0, top_k: int = 0, top_p: float = 1.0,
                 seed: int = 0, max_context: int = 0) -> Iterator[str]:
        """:meth:`Session.generate` in a fresh session."""
        return self.session(max_context).generate(
            prompt, max_new_tokens, temperature, top_k, top_p, seed)

    def __repr__(self) -> str:
        return f"<llmc.Model {self.path} on {self.device}>"


def load(path: PathLike, device: str = "cpu") -> Model:
    """Loads a ``.llmc`` artifact for ``device`` (``"cpu"``, ``"vulkan"``
    or ``"cuda"``: the target it was compiled for). RunError: missing file,
    bad artifact, another target, or missing CPU features; a GPU device
    that is absent (no driver, no device) fails when the first session is
    created."""
    return Model(os.fspath(path), device)


def roofline(model: Union[Module, PathLike], hardware: str = "nvidia-a100-80gb",
             phase: str = "decode", batch: int = 1, seq: int = 1,
             kv_len: int = 0, opt_level: int = 2) -> List[dict]:
    """Per-op roofline of the model as ``llmc compile -O<opt_level>`` builds
    it, as ``llmc roofline`` prints it: one dict per op with ``op``,
    ``weight``, ``layer``, ``flops``, ``weight_bytes``, ``act_load_bytes``,
    ``act_store_bytes``, ``kv_load_bytes``, ``kv_store_bytes``,
    ``intensity``, ``attainable_flops``, ``bound`` (``"memory"`` or
    ``"compute"``) and ``time_s``. ``model`` is a Module, a model path, a
    ``.mlir`` file or a bare ``config.json``; ``hardware`` a preset name or
    ``"host"`` (measured)."""
    args = dict(hardware=hardware, phase=phase, batch=int(batch),
                seq=int(seq), kv_len=int(kv_len), opt_level=int(opt_level))
    return _llmc.roofline(
        model._handle if isinstance(model, Module) else os.fspath(model), **args)
