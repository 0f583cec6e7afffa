"""The catalogue of bad inputs: for each format, the code, line, column and message."""

from __future__ import annotations

from pathlib import Path

import pytest

from fljob.compiler.load import load_document, load_text
from fljob.errors import ConfigSyntaxError, DiagnosticError, LoadError

# (id, format, text, code, line, col, words in the message)
BAD = [
    # JSON
    ("json-double-comma", "json", '{"a": 1,, "b": 2}', "FLJ101", 1, 9, "two commas"),
    (
        "json-missing-comma",
        "json",
        '{"a": 1\n "b": 2}',
        "FLJ101",
        2,
        2,
        "expected ',' or '}' after an object member",
    ),
    ("json-trailing-comma-obj", "json", '{"a": 1,}', "FLJ101", 1, 9, "trailing comma"),
    ("json-trailing-comma-list", "json", '{"a": [1, 2,]}', "FLJ101", 1, 13, "trailing comma"),
    ("json-single-quotes", "json", "{'a': 1}", "FLJ101", 1, 2, "double quotes"),
    ("json-nan", "json", '{"a": NaN}', "FLJ101", 1, 7, "NaN and Infinity"),
    ("json-infinity", "json", '{"a": -Infinity}', "FLJ101", 1, 7, "NaN and Infinity"),
    ("json-python-true", "json", '{"a": True}', "FLJ101", 1, 7, "not a JSON value"),
    ("json-leading-zero", "json", '{"a": 01}', "FLJ101", 1, 7, "leading zeros"),
    ("json-missing-colon", "json", '{"a" 1}', "FLJ101", 1, 6, "expected ':'"),
    ("json-raw-newline", "json", '{"a": "x\ny"}', "FLJ101", 1, 9, "control character"),
    ("json-bad-escape", "json", '{"a": "\\q"}', "FLJ101", 1, 8, "invalid escape"),
    ("json-bad-unicode", "json", '{"a": "\\u12"}', "FLJ101", 1, 8, "\\u escape"),
    ("json-comment", "json", '{\n  // note\n  "a": 1}', "FLJ101", 2, 3, "comments"),
    ("json-extra", "json", '{"a": 1}\n{"b": 2}', "FLJ101", 2, 1, "after the end"),
    ("json-empty", "json", "  \n", "FLJ101", 2, 1, "empty"),
    ("json-unclosed-list", "json", '{"a": [1, 2}', "FLJ101", 1, 12, "expected ',' or ']'"),
    ("json-unclosed-object", "json", '{"a": 1', "FLJ101", 1, 8, "expected ',' or '}'"),
    ("json-unterminated-string", "json", '{"a": "abc}', "FLJ101", 1, 7, "unterminated"),
    ("json-bare-word", "json", '{"a": train}', "FLJ101", 1, 7, "expected a value"),
    ("json-top-list", "json", "[1, 2]", "FLJ104", 1, 1, "top level must be an object"),
    ("json-top-number", "json", "5", "FLJ104", 1, 1, "found a number"),
    # HOCON
    ("hocon-double-comma", "hocon", "a = 1\nb = [1,, 2]", "FLJ101", 2, 8, "two commas"),
    ("hocon-leading-comma", "hocon", "a = [, 1]", "FLJ101", 1, 6, "before the first"),
    (
        "hocon-unclosed-object",
        "hocon",
        "a {\n  b = 1\n",
        "FLJ101",
        3,
        1,
        "expected '}' to close the object opened at line 1, column 3",
    ),
    ("hocon-unclosed-list", "hocon", "a = [1,\n 2", "FLJ101", 2, 3, "expected ']'"),
    ("hocon-stray-brace", "hocon", "a = 1\n}", "FLJ101", 2, 1, "no open object"),
    (
        "hocon-no-separator",
        "hocon",
        "a {x = 1} b = 2",
        "FLJ101",
        1,
        11,
        "expected ',' or a new line after an object member",
    ),
    ("hocon-at-key", "hocon", "@def = 1", "FLJ101", 1, 1, "expected a key"),
    ("hocon-missing-equals", "hocon", "a\nb = 1", "FLJ101", 1, 2, "after the key 'a'"),
    ("hocon-bad-separator", "hocon", "a ~ 1", "FLJ101", 1, 3, "expected '=', ':' or '{'"),
    ("hocon-unterminated", "hocon", 'a = "abc\nb = 1', "FLJ101", 1, 5, "unterminated string"),
    ("hocon-unterminated-triple", "hocon", 'a = """abc', "FLJ101", 1, 5, "triple-quoted"),
    ("hocon-empty-value", "hocon", "a =\n", "FLJ101", 2, 1, "expected a value"),
    ("hocon-empty-value-brace", "hocon", "x { a = }", "FLJ101", 1, 9, "expected a value"),
    ("hocon-undefined-subst", "hocon", "a = 1\nb = ${nope}", "FLJ101", 2, 5, "not defined"),
    ("hocon-subst-cycle", "hocon", "a = ${b}\nb = ${a}", "FLJ101", 1, 5, "a -> b -> a"),
    ("hocon-subst-self-cycle", "hocon", "a { x = ${a} }", "FLJ101", 1, 9, "cycle"),
    ("hocon-subst-spaces", "hocon", "a = 1\nb = ${ a }", "FLJ101", 2, 5, "spaces"),
    (
        "hocon-concat-list-text",
        "hocon",
        "a = [1]\nb = ${a} x",
        "FLJ101",
        2,
        5,
        "cannot concatenate",
    ),
    ("hocon-concat-obj-list", "hocon", "a = {x = 1} [2]", "FLJ101", 1, 5, "cannot concatenate"),
    ("hocon-bad-char", "hocon", "a = x * y", "FLJ101", 1, 7, "unexpected '*'"),
    ("hocon-optional-in-list", "hocon", "a = [1, ${?nope}]", "FLJ107", 1, 9, "list item"),
    ("hocon-self-in-list", "hocon", "a = 1\na = [{b = ${a}}]", "FLJ101", 2, 11, "${a} -> ${a}"),
    ("hocon-top-list", "hocon", "[1, 2]", "FLJ104", 1, 1, "top level must be an object"),
    ("hocon-after-root", "hocon", "{ a = 1 }\nb = 2", "FLJ101", 2, 1, "after the closing"),
    ("hocon-duration", "hocon", "timeout = 10s", "FLJ107", 1, 11, "durations"),
    ("hocon-duration-words", "hocon", "timeout = 5 minutes", "FLJ107", 1, 11, "durations"),
    ("hocon-unicode-escape", "hocon", 'a = "\\u0041"', "FLJ107", 1, 6, "escape"),
    ("hocon-plus-equals-scalar", "hocon", "a = [1]\na += 2", "FLJ107", 2, 3, "list value"),
    ("hocon-plus-equals-nested", "hocon", "x { a = [1], a += [2] }", "FLJ107", 1, 16, "top-level"),
    ("hocon-bool-in-text", "hocon", "a = true story", "FLJ107", 1, 5, "true, false or null"),
    ("hocon-null-subst", "hocon", "a = null\nb = ${a}", "FLJ107", 2, 5, "refers to null"),
    ("hocon-include-url", "hocon", 'include url("http://x/a.conf")', "FLJ107", 1, 1, "include url"),
    ("hocon-include-in-list", "hocon", 'a = [include "x.conf"]', "FLJ107", 1, 6, "include"),
    ("hocon-include-glob", "hocon", 'include "*.conf"', "FLJ107", 1, 1, "wildcards"),
    (
        "hocon-include-escape",
        "hocon",
        'include "../../../etc/x.conf"',
        "FLJ107",
        1,
        1,
        "outside the job folder",
    ),
    ("hocon-mixed-key", "hocon", 'a."b" = 1', "FLJ107", 1, 3, "quoted and unquoted"),
    ("hocon-empty-key-part", "hocon", "a..b = 1", "FLJ107", 1, 3, "empty part"),
    ("hocon-continuation", "hocon", "a = x \\\n y", "FLJ107", 1, 7, "line continuation"),
    # YAML
    ("yaml-bad-indent", "yaml", "a: 1\n b: 2", "FLJ101", 2, 3, "unexpected ':'"),
    ("yaml-unclosed-flow", "yaml", "a: [1, 2", "FLJ101", 1, 9, "expected ',' or ']'"),
    ("yaml-tab-indent", "yaml", "a:\n\t- 1", "FLJ101", 2, 1, "tab"),
    ("yaml-unterminated", "yaml", 'a: "x', "FLJ101", 1, 6, "end of stream"),
    ("yaml-two-documents", "yaml", "a: 1\n---\nb: 2", "FLJ101", 2, 1, "one YAML document"),
    ("yaml-merge-key", "yaml", "base: &b {x: 1}\nc:\n  <<: *b", "FLJ107", 3, 3, "merge keys"),
    ("yaml-binary", "yaml", "a: !!binary aGk=", "FLJ107", 1, 4, "not supported"),
    ("yaml-custom-tag", "yaml", "a: !thing 1", "FLJ107", 1, 4, "not supported"),
    ("yaml-bad-int-tag", "yaml", "a: !!int abc", "FLJ107", 1, 4, "not a valid int"),
    ("yaml-int-key", "yaml", "1: x", "FLJ107", 1, 1, "not a string"),
    ("yaml-list-key", "yaml", "? [a]\n: x", "FLJ107", 1, 3, "must be a string"),
    ("yaml-top-list", "yaml", "- 1\n- 2", "FLJ104", 1, 1, "found a list"),
    ("yaml-empty", "yaml", "# only a comment\n", "FLJ104", 1, 1, "empty"),
    ("yaml-top-scalar", "yaml", "just text", "FLJ104", 1, 1, "found a string"),
]


@pytest.mark.parametrize(
    ("fmt", "text", "code", "line", "col", "words"),
    [case[1:] for case in BAD],
    ids=[case[0] for case in BAD],
)
def test_bad_input(tmp_path: Path, fmt, text, code, line, col, words):
    path = tmp_path / {"json": "c.json", "hocon": "c.conf", "yaml": "c.yml"}[fmt]
    with pytest.raises(DiagnosticError) as info:
        load_text(text, path, fmt)
    diags = info.value.diagnostics()
    assert len(diags) == 1
    diag = diags[0]
    assert (diag.code, diag.line, diag.col) == (code, line, col), diag.format()
    assert words in diag.message, diag.format()
    assert diag.file == str(path)
    assert isinstance(info.value, ConfigSyntaxError if code == "FLJ101" else LoadError)
    # Syntax errors show the source line and a caret under the bad spot.
    if code in ("FLJ101", "FLJ107"):
        source, caret = diag.snippet.split("\n")
        assert caret.rstrip().endswith("^") and len(caret) == col
        assert source == text.split("\n")[line - 1]
    assert "Traceback" not in str(info.value)


def test_syntax_error_is_also_a_builtin_syntax_error():
    with pytest.raises(SyntaxError):
        load_text("{", "x.json", "json")


def test_error_renders_file_line_col_snippet_and_hint():
    with pytest.raises(ConfigSyntaxError) as info:
        load_text('{\n  "num_rounds": 5,,\n}', "job/meta.json", "json")
    assert str(info.value) == (
        "job/meta.json:2:19: FLJ101 error: two commas in a row\n"
        '      "num_rounds": 5,,\n'
        "                      ^\n"
        "  hint: remove one of the commas"
    )


@pytest.mark.parametrize(
    ("name", "content", "words", "line", "col"),
    [
        ("bad.json", b'{"a": "\xff"}', "not valid UTF-8 (byte 0xff)", 1, 8),
        ("bad.conf", b'a = 1\nb = "caf\xe9"', "not valid UTF-8", 2, 9),
        ("bad.yml", b"a: \x80", "not valid UTF-8", 1, 4),
    ],
    ids=["json", "hocon", "yaml"],
)
def test_non_utf8_file_is_flj105(tmp_path: Path, name, content, words, line, col):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(LoadError) as info:
        load_document(path)
    (diag,) = info.value.diagnostics()
    assert (diag.code, diag.line, diag.col) == ("FLJ105", line, col)
    assert words in diag.message


@pytest.mark.parametrize("kind", ["missing", "folder"])
def test_unreadable_file_is_flj105(tmp_path: Path, kind):
    path = tmp_path / "meta.json"
    if kind == "folder":
        path.mkdir()
    with pytest.raises(LoadError) as info:
        load_document(path)
    (diag,) = info.value.diagnostics()
    assert diag.code == "FLJ105" and diag.file == str(path)


def test_unknown_extension_is_flj107(tmp_path: Path):
    path = tmp_path / "meta.toml"
    path.write_text("a = 1")
    with pytest.raises(LoadError) as info:
        load_document(path)
    assert info.value.diagnostics()[0].code == "FLJ107"
