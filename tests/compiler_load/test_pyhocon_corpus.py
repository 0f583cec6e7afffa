"""Our HOCON parser gives the same data as pyhocon (FLARE's parser) on FLARE-2.4-style job
configs, hand-written edge cases and generated documents."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from fljob.compiler.load import load_document, load_text
from tests.compiler_load.generate import random_object, to_hocon

pyhocon = pytest.importorskip("pyhocon")

CORPUS = Path(__file__).parent / "corpus"
FILES = sorted(CORPUS.glob("*.conf"))


def pyhocon_plain(text: str, basedir: Path | None = None) -> Any:
    """pyhocon's result as plain data (as FLARE uses it: null for NoneValue)."""
    from pyhocon.config_tree import ConfigTree, NoneValue

    def plain(value: Any) -> Any:
        if isinstance(value, ConfigTree):
            return {key.strip('"'): plain(child) for key, child in value.items()}
        if isinstance(value, list):
            return [plain(child) for child in value]
        return None if isinstance(value, NoneValue) else value

    return plain(
        pyhocon.ConfigFactory.parse_string(text, basedir=str(basedir) if basedir else None)
    )


def _same(mine: Any, theirs: Any) -> None:
    # json.dumps keeps key order and tells 1 from 1.0 from true.
    assert json.dumps(mine, ensure_ascii=False) == json.dumps(theirs, ensure_ascii=False)


def test_corpus_is_not_empty():
    assert len(FILES) >= 12


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_corpus_equals_pyhocon(path: Path):
    _same(load_document(path).data, pyhocon_plain(path.read_text(encoding="utf-8"), CORPUS))


@pytest.mark.parametrize("seed", range(30))
def test_generated_documents_equal_pyhocon(seed: int):
    rng = random.Random(seed)
    text = to_hocon(random_object(rng), rng)
    _same(load_text(text, "gen.conf", "hocon").data, pyhocon_plain(text))


SNIPPETS = {
    "concat-ws": 'a = foo   bar "q"  x  ',
    "number-word": "a = 10 apples\nb = 1.50 x\nc = 1 2 3",
    "version": "v = 1.2.3",
    "unquoted-specials": "a = grpc://h:1/x\nb = C:/dir\nc = a;b%c~d'e",
    "subst-concat": 'n = 5\ns = "r"${n}" x"\nt = ${n} apples\nu = a ${n}',
    "subst-object-merge": "b { x = 1 }\nc = ${b} { y = 2 }\nd = ${b}\nd { z = 3 }",
    "subst-forward": "a = ${b}\nb = ${c}\nc = 3",
    "subst-nested": "a { b { c = 1 } }\nd = ${a.b.c}\ne = ${a.b}",
    "subst-list": "a = [1, 2]\nb = ${a} [3]\nc = [${a}, ${a}]",
    "optional-keeps": "a = 1\na = ${?nope}\nb = ${?nope}",
    "plus-equals": "a = [1]\na += [2]\na += [3, 4]",
    "dotted-merge": "a.b = 1\na.c = 2\na { d = 3 }\na.e.f = 4",
    "replace-object": "a { x = 1 }\na = [1]\nb = [1]\nb { y = 2 }",
    "quoted-keys": '"a b" = 1\n"c.d" = 2\n"@pvd" = x\n"x:y" { "$z" = 1 }',
    "escapes": r'a = "t\tn\nq\"b\\h\#e\=x\!"' + '\nb = "keep \\d"',
    "triple": 'a = """x "y" \\n\n  z"""\nb = """"quoted""""',
    "keywords": "a = TRUE\nb = fAlSe\nc = NULL\nd = truex\ne = true_1",
    "root-braces-trailing": "{\n a = 1\n}\n\n# end\n",
    "newline-separated-objects": "l = [\n {a = 1}\n {b = 2}\n]",
    "empty-structures": "a {}\nb = {}\nc = []\nd: {}",
    "comment-positions": "a = 1 // x\n# y\nb // z\n{ c = 2 }",
    "key-with-slash": "a/b = 1\nc-d = 2\ne_f.g-h = 3",
    "subst-in-list-object": "id = x\nl = [{ id = ${id}, n { id = ${id} } }]",
    "include-keyword-as-key": "include_dirs = [a]\nincluded = 1",
}


@pytest.mark.parametrize("text", SNIPPETS.values(), ids=SNIPPETS.keys())
def test_edge_snippets_equal_pyhocon(text: str):
    _same(load_text(text, "s.conf", "hocon").data, pyhocon_plain(text))


def test_include_equals_pyhocon(tree):
    root = tree(
        {
            "main.conf": 'a = 1\ninclude "inc.conf"\nc = ${b}\nd { include "inc.conf" }\n',
            "inc.conf": "b = 2\ne { f = 3 }\n",
        }
    )
    main = root / "main.conf"
    _same(load_document(main).data, pyhocon_plain(main.read_text(), root))
