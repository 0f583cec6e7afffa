"""Format-preserving edits: golden before/after texts in JSON, HOCON and YAML."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from fljob.compiler.edit import EditError, add_value, delete_value, render_value, set_value
from fljob.compiler.load import load_text

EXT = {"json": ".json", "hocon": ".conf", "yaml": ".yml"}


def doc(fmt: str, text: str):
    return load_text(textwrap.dedent(text).lstrip("\n"), Path("c" + EXT[fmt]), fmt)


def golden(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


HOCON = """
{
  # rounds of FedAvg
  num_rounds = 5   # keep me
  name = "x"
  workflows = [
    {
      id = "fedavg"
      args {
        lr = 0.1
      }
    }
  ]
  empty {}
}
"""
JSON = """
{
  "num_rounds": 5,
  "name": "x",
  "workflows": [
    {
      "id": "fedavg",
      "args": {
        "lr": 0.1
      }
    }
  ],
  "empty": {}
}
"""
YAML = """
# rounds of FedAvg
num_rounds: 5  # keep me
name: x
workflows:
  - id: fedavg
    args:
      lr: 0.1
tags:
  - a
  - b
"""

CASES = [
    # (id, format, source, operation, path, value, expected text)
    (
        "hocon-set-keeps-comments",
        "hocon",
        HOCON,
        "set",
        ("num_rounds",),
        7,
        HOCON.replace("num_rounds = 5", "num_rounds = 7"),
    ),
    (
        "hocon-set-string-010",
        "hocon",
        HOCON,
        "set",
        ("name",),
        "010",
        HOCON.replace('name = "x"', 'name = "010"'),
    ),
    (
        "hocon-add-nested",
        "hocon",
        HOCON,
        "add",
        ("workflows", 0, "args", "momentum"),
        0.9,
        HOCON.replace("lr = 0.1\n", "lr = 0.1\n        momentum = 0.9\n"),
    ),
    (
        "hocon-add-to-empty",
        "hocon",
        HOCON,
        "add",
        ("empty", "k"),
        True,
        HOCON.replace("empty {}", "empty { k = true }"),
    ),
    (
        "hocon-delete-line",
        "hocon",
        HOCON,
        "delete",
        ("name",),
        None,
        HOCON.replace('  name = "x"\n', ""),
    ),
    (
        "hocon-set-object-to-scalar",
        "hocon",
        HOCON,
        "set",
        ("empty",),
        3,
        HOCON.replace("empty {}", "empty = 3"),
    ),
    (
        "json-set",
        "json",
        JSON,
        "set",
        ("workflows", 0, "args", "lr"),
        0.5,
        JSON.replace('"lr": 0.1', '"lr": 0.5'),
    ),
    (
        "json-add-after-last",
        "json",
        JSON,
        "add",
        ("workflows", 0, "args", "momentum"),
        0.9,
        JSON.replace('"lr": 0.1\n', '"lr": 0.1,\n        "momentum": 0.9\n'),
    ),
    (
        "json-delete-last-drops-comma",
        "json",
        JSON,
        "delete",
        ("empty",),
        None,
        JSON.replace('],\n  "empty": {}\n', "]\n"),
    ),
    (
        "json-delete-middle",
        "json",
        JSON,
        "delete",
        ("name",),
        None,
        JSON.replace('  "name": "x",\n', ""),
    ),
    (
        "json-add-list",
        "json",
        JSON,
        "add",
        ("tags",),
        ["a"],
        JSON.replace('"empty": {}\n', '"empty": {},\n  "tags": ["a"]\n'),
    ),
    (
        "yaml-set-keeps-comment",
        "yaml",
        YAML,
        "set",
        ("num_rounds",),
        9,
        YAML.replace("num_rounds: 5", "num_rounds: 9"),
    ),
    (
        "yaml-set-quotes-when-needed",
        "yaml",
        YAML,
        "set",
        ("name",),
        "true",
        YAML.replace("name: x", 'name: "true"'),
    ),
    (
        "yaml-set-block-list",
        "yaml",
        YAML,
        "set",
        ("tags",),
        ["c", "d e", "f"],
        YAML.replace("  - a\n  - b\n", "  - c\n  - d e\n  - f\n"),
    ),
    (
        "yaml-set-block-to-scalar",
        "yaml",
        YAML,
        "set",
        ("tags",),
        [],
        YAML.replace("tags:\n  - a\n  - b\n", "tags: []\n"),
    ),
    (
        "yaml-add-nested",
        "yaml",
        YAML,
        "add",
        ("workflows", 0, "args", "momentum"),
        0.9,
        YAML.replace("lr: 0.1\n", "lr: 0.1\n      momentum: 0.9\n"),
    ),
    (
        "yaml-delete-list-item",
        "yaml",
        YAML,
        "delete",
        ("tags", 0),
        None,
        YAML.replace("  - a\n", ""),
    ),
    ("yaml-delete-key", "yaml", YAML, "delete", ("name",), None, YAML.replace("name: x\n", "")),
]


@pytest.mark.parametrize(
    ("fmt", "source", "op", "path", "value", "expected"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_edit_golden(fmt, source, op, path, value, expected) -> None:
    document = doc(fmt, source)
    if op == "set":
        new = set_value(document, path, value)
    elif op == "add":
        new = add_value(document, path, value)
    else:
        new = delete_value(document, path)
    assert new == golden(expected)
    reloaded = load_text(new, document.path, fmt)  # the edit keeps the file valid
    node = reloaded.data
    for part in path[:-1]:
        node = node[part]
    if op == "delete":
        assert path[-1] not in node if isinstance(node, dict) else len(node) == 1
    else:
        assert node[path[-1]] == value


@pytest.mark.parametrize(
    ("fmt", "value", "text"),
    [
        ("hocon", {"a": [1, "b"]}, '{ a = [1, "b"] }'),
        ("hocon", "010", '"010"'),
        ("json", {"a": None}, '{"a": null}'),
        ("yaml", "plain words", "plain words"),
        ("yaml", "010", '"010"'),
        ("yaml", "yes", '"yes"'),
        ("yaml", "a: b", '"a: b"'),
        ("yaml", {"k": ["x", 1]}, "{k: [x, 1]}"),
    ],
    ids=[
        "hocon-dict",
        "hocon-str-digits",
        "json-null",
        "yaml-plain",
        "yaml-digits",
        "yaml-bool-word",
        "yaml-colon",
        "yaml-flow",
    ],
)
def test_render_value(fmt: str, value: object, text: str) -> None:
    assert render_value(value, fmt) == text


@pytest.mark.parametrize(
    ("fmt", "source", "expected"),
    [
        ("hocon", "args { a = 1 }\n", "args { a = 1, b = 2 }\n"),
        ("json", '{"args": {"a": 1}}\n', '{"args": {"a": 1, "b": 2}}\n'),
        ("yaml", "args: {a: 1}\n", "args: {a: 1, b: 2}\n"),
    ],
    ids=["hocon", "json", "yaml"],
)
def test_add_to_inline_object(fmt: str, source: str, expected: str) -> None:
    assert add_value(doc(fmt, source), ("args", "b"), 2) == expected


def test_dotted_hocon_parent_cannot_take_new_keys() -> None:
    document = doc("hocon", 'components = [{ id = "l", args.script = "python x.py" }]\n')
    with pytest.raises(EditError, match="no single place"):
        add_value(document, ("components", 0, "args", "launch_once"), True)
    # ...but the value itself is editable in place
    new = set_value(document, ("components", 0, "args", "script"), "python y.py")
    assert new == 'components = [{ id = "l", args.script = "python y.py" }]\n'
