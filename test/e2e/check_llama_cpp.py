"""Greedy generation of stories260K by llama.cpp (llama-cpp-python) on a GGUF
export of the same checkpoint, compared with `llmc run`'s text: a second
reference nobody here wrote.

usage: check_llama_cpp.py MODEL.bin TOK.bin WORKDIR LLMC_TEXT PROMPT N
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench"))
import make_models  # noqa: E402
import reference  # noqa: E402


def main():
    model_bin, tok_bin, work, llmc_text, prompt, n = sys.argv[1:7]
    n = int(n)
    import llama_cpp
    from llama_cpp import Llama
    os.makedirs(work, exist_ok=True)
    gguf_path = os.path.join(work, "stories260K.f32.gguf")
    m = reference.load_llama2c(model_bin)
    tok = reference.Llama2CTokenizer(tok_bin, m.cfg["vocab"])
    make_models.write_gguf(gguf_path, m, tok.pieces, tok.scores)
    # f32 KV cache, one thread: as close to plain f32 arithmetic as it gets.
    llm = Llama(model_path=gguf_path, n_ctx=512, n_threads=1, type_k=0, type_v=0,
                logits_all=False, verbose=False)
    ids = tok.encode(prompt)
    llm.eval(ids)
    text = prompt.encode()
    prev = ids[-1]
    import numpy as np
    V = m.cfg["vocab"]
    for _ in range(n):
        last = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1)
        nxt = int(np.argmax(np.ctypeslib.as_array(last, shape=(V,))))
        if nxt in (1, 2):
            break
        text += tok.piece(prev, nxt)
        prev = nxt
        if len(ids) + 1 >= 512:
            break
        ids.append(nxt)
        llm.eval([nxt])
    text += b"\n"
    got = open(llmc_text, "rb").read()
    same = 0
    while same < min(len(got), len(text)) and got[same] == text[same]:
        same += 1
    if got == text:
        print(f"llama.cpp: {len(text)} bytes identical")
        return 0
    print(f"llama.cpp: first difference at byte {same} of {len(text)}:\n"
          f"  llmc:      {got[same:same+60]!r}\n  llama.cpp: {text[same:same+60]!r}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
