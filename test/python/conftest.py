"""Fixtures of the Python bindings' tests: the llmc tools and stories260K."""

import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STORIES = os.path.join(ROOT, "..", "shared", "models", "stories260K")
STORIES_BIN = os.path.join(STORIES, "stories260K.bin")
STORIES_TOK = os.path.join(STORIES, "tok512.bin")


def tool(name):
    """Path of an llmc tool in the build tree (LLMC_BIN_DIR, set by ctest)."""
    path = os.path.join(os.environ.get("LLMC_BIN_DIR", os.path.join(ROOT, "build", "bin")), name)
    if not os.path.exists(path):
        pytest.skip(f"{path} not built")
    return path


def run(*args, **kw):
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, **kw)


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    """A private compile cache, so tests never reuse a user's artifacts."""
    d = tmp_path_factory.mktemp("cache")
    old = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(d)
    yield d
    if old is None:
        del os.environ["XDG_CACHE_HOME"]
    else:
        os.environ["XDG_CACHE_HOME"] = old


@pytest.fixture(scope="session")
def stories(cache_dir):
    """(model path, tokenizer path) of stories260K, or a skip."""
    if not (os.path.exists(STORIES_BIN) and os.path.exists(STORIES_TOK)):
        pytest.skip("../shared/models/stories260K not found (needs the shared "
                    "models beside the checkout)")
    return STORIES_BIN, STORIES_TOK


@pytest.fixture(scope="session")
def stories_artifact(stories, tmp_path_factory):
    import llmc
    out = tmp_path_factory.mktemp("art") / "stories.llmc"
    art = llmc.compile(stories[0], tokenizer=stories[1], out=out)
    assert art.path == str(out)
    return art
