"""What each loader gives for good input: JSON = json.loads, YAML 1.2 core scalars,
HOCON values, warnings and suppressions."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from fljob.compiler.load import load_document, load_text
from fljob.errors import Severity

JSON_CASES = {
    "nested": '{"a": {"b": [1, 2.5, -3e2, true, false, null]}, "c": "x"}',
    "escapes": r'{"s": "q\" b\\ s\/ \b\f\n\r\t \u00e9 \ud83d\ude00 \u0000"}',
    "lone-surrogate": r'{"s": "\ud800"}',
    "numbers": '{"n": [0, -0, 10, 1.0, 1E+2, 1e-2, 12345678901234567890123, 0.1]}',
    "whitespace": ' \r\n\t{ "a" :\n1 ,"b":[ ] , "c" : { } }\n ',
    "unicode-text": '{"名前": "héllo ✓"}',
    "duplicate": '{"a": 1, "b": 2, "a": {"x": 3}}',
    "empty-key": '{"": 1}',
}


@pytest.mark.parametrize("text", JSON_CASES.values(), ids=JSON_CASES.keys())
def test_json_data_equals_json_loads(text):
    data = load_text(text, "c.json", "json").data
    expected = json.loads(text)
    assert data == expected
    # Same types and order too (1 vs 1.0 vs True compare equal in Python).
    assert json.dumps(data) == json.dumps(expected)


def test_json_duplicate_key_warns_and_last_wins():
    doc = load_text('{\n  "a": {"x": 1},\n  "a": 2\n}', "c.json", "json")
    assert doc.data == {"a": 2}
    (warning,) = doc.warnings
    assert (warning.code, warning.severity, warning.line, warning.col) == (
        "FLJ106",
        Severity.WARNING,
        3,
        3,
    )
    assert warning.key_path == "a"
    assert ("a", "x") not in doc.spans


YAML_SCALARS = [
    # (text, value) under YAML 1.2 core-schema rules
    ("true", True),
    ("True", True),
    ("TRUE", True),
    ("false", False),
    ("FALSE", False),
    ("yes", "yes"),
    ("no", "no"),
    ("on", "on"),
    ("off", "off"),
    ("y", "y"),
    ("n", "n"),
    ("Yes", "Yes"),
    ("tRue", "tRue"),
    ("null", None),
    ("Null", None),
    ("NULL", None),
    ("~", None),
    ("", None),
    ("nil", "nil"),
    ("10", 10),
    ("010", 10),
    ("-5", -5),
    ("+7", 7),
    ("0o17", 15),
    ("0x1F", 31),
    ("0b101", "0b101"),
    ("1_000", "1_000"),
    ("1:30", "1:30"),
    ("190:20:30", "190:20:30"),
    ("1.5", 1.5),
    ("-0.25", -0.25),
    (".5", 0.5),
    ("1e3", 1000.0),
    ("1.", 1.0),
    ("2024-01-02", "2024-01-02"),
    ("'5'", "5"),
    ('"true"', "true"),
    ("!!str 5", "5"),
    ("!!int '12'", 12),
    ("!!float 1", 1.0),
    ("!!bool true", True),
    ("!!null ''", None),
    ("hello world", "hello world"),
    ("'it''s'", "it's"),
]


@pytest.mark.parametrize(
    ("text", "value"), YAML_SCALARS, ids=[t or "empty" for t, _ in YAML_SCALARS]
)
def test_yaml_core_schema_scalars(text, value):
    data = load_text(f"v: {text}\n", "c.yml", "yaml").data
    assert data["v"] == value
    assert type(data["v"]) is type(value)


@pytest.mark.parametrize(
    ("text", "check"), [(".inf", math.isinf), ("-.Inf", math.isinf), (".nan", math.isnan)]
)
def test_yaml_special_floats(text, check):
    assert check(load_text(f"v: {text}", "c.yml", "yaml").data["v"])


def test_yaml_structures_anchors_and_block_scalars():
    text = (
        "base: &b\n  lr: 0.01\nother: *b\nlist:\n  - 1\n  - {a: [x, y]}\n"
        "lit: |\n  line 1\n  line 2\nfolded: >-\n  one\n  two\n"
    )
    data = load_text(text, "c.yaml", "yaml").data
    assert data == {
        "base": {"lr": 0.01},
        "other": {"lr": 0.01},
        "list": [1, {"a": ["x", "y"]}],
        "lit": "line 1\nline 2\n",
        "folded": "one two",
    }


def test_yaml_duplicate_key_warns():
    doc = load_text("a: 1\nb:\n  c: 1\n  c: 2\n", "c.yml", "yaml")
    assert doc.data == {"a": 1, "b": {"c": 2}}
    (warning,) = doc.warnings
    assert (warning.code, warning.line, warning.col, warning.key_path) == ("FLJ106", 4, 3, "b.c")


HOCON_CASES = [
    ("unquoted", "a = hello world  # c", {"a": "hello world"}),
    ("colon", "a: 1", {"a": 1}),
    ("brace-no-sep", "a { b = 1 }", {"a": {"b": 1}}),
    ("brace-next-line", "a\n{ b = 1 }", {"a": {"b": 1}}),
    ("value-next-line", "a =\n  5", {"a": 5}),
    ("slash-comment", "a = 1 // c\nb = x//y", {"a": 1, "b": "x//y"}),
    ("dotted", "a.b.c = 1\na.b.d = 2", {"a": {"b": {"c": 1, "d": 2}}}),
    ("quoted-dotted-key", '"a.b" = 1', {"a.b": 1}),
    ("int-float", "a = 1\nb = 1.0\nc = 1e2\nd = 010", {"a": 1, "b": 1.0, "c": 100.0, "d": 10}),
    (
        "keywords",
        "a = TRUE\nb = False\nc = null\nd = yes",
        {"a": True, "b": False, "c": None, "d": "yes"},
    ),
    ("triple", 'a = """x\n "y" \\n"""', {"a": 'x\n "y" \\n'}),
    ("escapes", r'a = "t\tq\"b\\"', {"a": 't\tq"b\\'}),
    ("concat", 'a = foo "bar" baz', {"a": "foo bar baz"}),
    ("subst", "x = 5\na = ${x}\nb = n${x}", {"x": 5, "a": 5, "b": "n5"}),
    ("subst-optional", "a = ${?nope}\nb = 1", {"b": 1}),
    ("plus-equals", "a = [1]\na += [2, 3]", {"a": [1, 2, 3]}),
    ("plus-equals-new", "a += [2]", {"a": [2]}),
    ("self-ref", "a = [1]\na = ${a} [2]", {"a": [1, 2]}),
    ("merge", "a { x = 1 }\na { y = 2 }", {"a": {"x": 1, "y": 2}}),
    ("replace", "a { x = 1 }\na = 3", {"a": 3}),
    (
        "object-replaces-value",
        "a = 5\na { b = 1 }\nc.d = 1\nc.d { e = 2 }",
        {"a": {"b": 1}, "c": {"d": {"e": 2}}},
    ),
    ("trailing-commas", "a = [1, 2,]\nb { c = 1, }", {"a": [1, 2], "b": {"c": 1}}),
    ("empty-string-in-list", 'a = ["", x]', {"a": ["", "x"]}),
    ("crlf", "a = 1\r\nb = [1,\r\n 2]\r\n", {"a": 1, "b": [1, 2]}),
    ("empty-file", "", {}),
    ("comments-only", "# nothing\n// here\n", {}),
]


@pytest.mark.parametrize(
    ("text", "expected"), [c[1:] for c in HOCON_CASES], ids=[c[0] for c in HOCON_CASES]
)
def test_hocon_values(text, expected):
    data = load_text(text, "c.conf", "hocon").data
    assert json.dumps(data) == json.dumps(expected)


@pytest.mark.parametrize(
    ("fmt", "text", "expected"),
    [
        ("hocon", "a = 1  # fljob: ignore[FLJ301]\nb = 2", {1: {"FLJ301"}}),
        ("hocon", "// fljob: ignore[FLJ301, FLJ302]\nb = 2", {2: {"FLJ301", "FLJ302"}}),
        ("hocon", "# fljob: ignore[FLJ301]\n\n# another comment\nb = 2", {4: {"FLJ301"}}),
        ("hocon", "x {\n  a = 1 # fljob: ignore[FLJ401]\n}", {2: {"FLJ401"}}),
        ("hocon", 'a = "# fljob: ignore[FLJ301]"', {}),
        ("hocon", "a = 1 # fljob: ignore[nonsense]", {}),
        ("yaml", "a: 1  # fljob: ignore[FLJ301]\nb: 2", {1: {"FLJ301"}}),
        ("yaml", "# fljob: ignore[FLJ301]\nb: 2", {2: {"FLJ301"}}),
        ("yaml", "a: 'x # fljob: ignore[FLJ301]'", {}),
        ("yaml", "list:\n  # fljob: ignore[FLJ302]\n  - 1\n", {3: {"FLJ302"}}),
    ],
    ids=[
        "hocon-same-line",
        "hocon-next-line",
        "hocon-skips-comments",
        "hocon-nested",
        "hocon-in-string",
        "hocon-bad-code",
        "yaml-same-line",
        "yaml-next-line",
        "yaml-in-string",
        "yaml-list",
    ],
)
def test_suppressions(fmt, text, expected):
    doc = load_text(text, "c", fmt)
    assert {line: set(codes) for line, codes in doc.suppressions.items()} == expected
    for line, codes in expected.items():
        assert all(doc.is_suppressed(code, line) for code in codes)


@pytest.mark.parametrize("name", ["c.json", "c.conf", "c.yml", "c.yaml"])
def test_utf8_bom_is_dropped(tmp_path: Path, name):
    content = (
        '{"a": 1}' if name.endswith(".json") else ("a = 1" if name.endswith(".conf") else "a: 1")
    )
    path = tmp_path / name
    path.write_bytes(b"\xef\xbb\xbf" + content.encode())
    doc = load_document(path)
    assert doc.data == {"a": 1}
    assert doc.text == content
    assert (
        doc.format
        == {"json": "json", "conf": "hocon", "yml": "yaml", "yaml": "yaml"}[name.rsplit(".", 1)[1]]
    )


def test_hocon_include_relative_and_inside_job(tree):
    root = tree(
        {
            "job/common.conf": "lr = 0.01\nmodel { path = net.Net }\n",
            "job/app/config/config_fed_client.conf": (
                'include "../../common.conf"\nmodel { args.n = 2 }\nrate = ${lr}\n'
            ),
        }
    )
    path = root / "job/app/config/config_fed_client.conf"
    doc = load_document(path, root=root / "job")
    assert doc.data == {"lr": 0.01, "model": {"path": "net.Net", "args": {"n": 2}}, "rate": 0.01}
    assert doc.includes == ((root / "job/common.conf").resolve(),)
    # Included values point at the include directive, and are marked synthetic.
    assert doc.spans[("lr",)].line == 1 and ("lr",) in doc.synthetic
    # Without the job root, the file's own folder is the limit.
    with pytest.raises(Exception, match="outside the job folder"):
        load_document(path)


def test_hocon_include_forms_and_missing(tree):
    root = tree(
        {
            "a.conf": (
                'include file("b.conf")\ninclude required("c.conf")\ninclude "missing.conf"\n'
            ),
            "b.conf": "b = 1",
            "c.conf": "c = 2",
        }
    )
    doc = load_document(root / "a.conf")
    assert doc.data == {"b": 1, "c": 2}
    (warning,) = doc.warnings
    assert warning.code == "FLJ108" and warning.line == 3


def test_hocon_required_include_missing_is_an_error(tree):
    root = tree({"a.conf": 'include required("nope.conf")'})
    with pytest.raises(Exception) as info:
        load_document(root / "a.conf")
    assert info.value.diagnostics()[0].code == "FLJ105"


def test_hocon_include_cycle(tree):
    root = tree({"a.conf": 'include "b.conf"', "b.conf": 'include "a.conf"'})
    with pytest.raises(Exception, match="cycle"):
        load_document(root / "a.conf")


def test_hocon_syntax_error_in_include_names_the_included_file(tree):
    root = tree({"a.conf": 'x = 1\ninclude "b.conf"', "b.conf": "y = [1,, 2]"})
    with pytest.raises(Exception) as info:
        load_document(root / "a.conf")
    (diag,) = info.value.diagnostics()
    assert diag.file.endswith("b.conf") and (diag.line, diag.col) == (1, 8)
