"""Spans are exact: ``text[start:end]`` is each value's (and key's) source, so splicing a
new value there edits exactly that value, in every format."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import pytest

from fljob.compiler.document import Document
from fljob.compiler.keypath import KeyPath
from fljob.compiler.load import load_text
from tests.compiler_load.generate import random_object, to_hocon, to_json, to_yaml

RENDER = {"json": to_json, "hocon": to_hocon, "yaml": to_yaml}
SEEDS = range(25)


def _walk(value: Any, path: KeyPath = ()):
    yield path, value
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _walk(child, (*path, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _walk(child, (*path, i))


def _set(data: Any, path: KeyPath, value: Any) -> Any:
    data = copy.deepcopy(data)
    target = data
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return data


def _rename(data: Any, path: KeyPath, new: str) -> Any:
    data = copy.deepcopy(data)
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    items = [(new if k == path[-1] else k, v) for k, v in parent.items()]
    parent.clear()
    parent.update(items)
    return data


def _replacement(doc: Document, path: KeyPath, value: Any) -> tuple[str, Any]:
    """Source text to splice in at ``path``, and the value it must load as."""
    if isinstance(value, dict):
        if doc.format == "yaml" and doc.text[doc.spans[path].start] != "{":
            return "zz: 12345", {"zz": 12345}
        return ('{"zz": 12345}', {"zz": 12345})
    if isinstance(value, list):
        if doc.format == "yaml" and doc.text[doc.spans[path].start] != "[":
            return "- 12345", [12345]
        return "[12345]", [12345]
    return "12345", 12345


def _dump(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


def _load(fmt: str, text: str) -> Document:
    return load_text(text, f"c.{fmt}", fmt)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("fmt", ["json", "hocon", "yaml"])
def test_spans_are_exact(fmt: str, seed: int):
    rng = random.Random(seed)
    data = random_object(rng)
    text = RENDER[fmt](data, rng)
    doc = _load(fmt, text)
    assert _dump(doc.data) == _dump(data), text

    for path, value in _walk(data):
        assert path in doc.spans, (path, text)
        span = doc.spans[path]
        # lines and columns agree with the offsets
        assert text.count("\n", 0, span.start) + 1 == span.line
        assert span.start - (text.rfind("\n", 0, span.start) + 1) + 1 == span.col
        assert text.count("\n", 0, span.end) + 1 == span.end_line
        if path and isinstance(path[-1], str):
            assert path in doc.key_spans
        if path == () or path in doc.synthetic:
            continue
        new_text, new_value = _replacement(doc, path, value)
        spliced = text[: span.start] + new_text + text[span.end :]
        assert _dump(_load(fmt, spliced).data) == _dump(_set(data, path, new_value)), (
            f"splicing {path} in:\n{text}\n---\n{spliced}"
        )


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("fmt", ["json", "hocon", "yaml"])
def test_key_spans_are_exact(fmt: str, seed: int):
    rng = random.Random(1000 + seed)
    data = random_object(rng)
    text = RENDER[fmt](data, rng)
    doc = _load(fmt, text)
    for path, span in doc.key_spans.items():
        source = text[span.start : span.end]
        key = path[-1]
        assert (
            source == key
            or json.loads(source) == key
            or (fmt == "yaml" and source.strip("'") == key)
        ), (path, source)
        if path in doc.synthetic:  # e.g. "args" of args.a / args.b: written twice
            continue
        new_key = "renamed_k" if fmt != "json" else '"renamed_k"'
        spliced = text[: span.start] + new_key + text[span.end :]
        assert _dump(_load(fmt, spliced).data) == _dump(_rename(data, path, "renamed_k"))


# Hand-written files whose spans must be exact as written.
HAND = {
    "hocon": (
        'a = 5\nb = "abc"  # c\nc = [1, 2]\nd { e = x y z }\nf.g = true\nh: """t\n"""\n'
        "i = ${a}\nj = ${?nope} 1.5\n",
        {
            ("a",): "5",
            ("b",): '"abc"',
            ("c",): "[1, 2]",
            ("c", 1): "2",
            ("d",): "{ e = x y z }",
            ("d", "e"): "x y z",
            ("f", "g"): "true",
            ("h",): '"""t\n"""',
            ("i",): "${a}",
            ("j",): "${?nope} 1.5",
        },
    ),
    "yaml": (
        "a: 5\nb: 'abc'  # c\nc: [1, 2]\nd:\n  e: x y z\n  f:\n  - 1\n  - 2\n"
        "g: |\n  text\n\nh: !!str 7\n",
        {
            ("a",): "5",
            ("b",): "'abc'",
            ("c",): "[1, 2]",
            ("c", 1): "2",
            ("d",): "e: x y z\n  f:\n  - 1\n  - 2",
            ("d", "e"): "x y z",
            ("d", "f"): "- 1\n  - 2",
            ("g",): "|\n  text",
            ("h",): "!!str 7",
        },
    ),
    "json": (
        '{"a": 5, "b": "a\\"bc", "c": [1, {"d": null}], "e": -1.5e3}',
        {
            ("a",): "5",
            ("b",): '"a\\"bc"',
            ("c",): '[1, {"d": null}]',
            ("c", 1): '{"d": null}',
            ("c", 1, "d"): "null",
            ("e",): "-1.5e3",
            (): None,
        },
    ),
}


@pytest.mark.parametrize("fmt", HAND)
def test_hand_written_spans(fmt: str):
    text, expected = HAND[fmt]
    doc = _load(fmt, text)
    for path, source in expected.items():
        span = doc.spans[path]
        assert text[span.start : span.end] == (source if source is not None else text), path


def test_hocon_synthetic_paths():
    text = "args.model.path = net.Net\nbase { lr = 1 }\nx = ${base}\nm { a = 1 }\nm { b = 2 }\n"
    doc = _load("hocon", text)
    assert {("args",), ("args", "model"), ("x", "lr"), ("m",)} <= doc.synthetic
    assert ("args", "model", "path") not in doc.synthetic and ("x",) not in doc.synthetic
    span = doc.spans[("x",)]
    assert text[span.start : span.end] == "${base}"
    assert (
        text[doc.key_spans[("args", "model")].start : doc.key_spans[("args", "model")].end]
        == "model"
    )
