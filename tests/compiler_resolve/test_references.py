"""The reference grammar and the string scanner: what is a reference, what stays text."""

from __future__ import annotations

import pytest

from fljob.compiler.references import (
    SYSTEM_VARIABLES,
    Argument,
    CallRef,
    EnvRef,
    ReferenceSyntaxError,
    VariableRef,
    _fast_reference,
    _parser,
    escape_braces,
    needs_scan,
    parse_reference,
    parse_template,
    template_text,
    type_scalar,
)

V, E, C, A = VariableRef, EnvRef, CallRef, Argument

# (id, string, parts after scanning)
SCANS = [
    ("plain", "no braces here", ("no braces here",)),
    ("empty", "", ("",)),
    ("whole", "{n}", (V("n"),)),
    (
        "interpolated",
        "custom/{app_script} --lr {lr}",
        ("custom/", V("app_script"), " --lr ", V("lr")),
    ),
    ("adjacent", "{a}{b}", (V("a"), V("b"))),
    ("nested-key", "{model.args.lr}", (V("model", ("args", "lr")),)),
    ("index", "{sites[0]}", (V("sites", (0,)),)),
    ("mixed-path", "{a.list[2].name}", (V("a", ("list", 2, "name")),)),
    ("system", "{SITE_NAME}", (V("SITE_NAME"),)),
    ("env", "{$DATA_DIR}", (E("DATA_DIR"),)),
    ("env-default", "{$PORT:-8002}", (E("PORT", "8002"),)),
    ("env-empty-default", "{$X:-}", (E("X", ""),)),
    ("env-default-with-colons", "{$URL:-grpc://h:8002}", (E("URL", "grpc://h:8002"),)),
    ("call-bare", "{@url}", (C("url"),)),
    ("call-args", "{@url:host=h:port=8002}", (C("url", (A("host", "h"), A("port", 8002))),)),
    ("call-quoted", '{@u:url="grpc://h:8002"}', (C("u", (A("url", "grpc://h:8002"),)),)),
    ("call-quoted-brace", '{@u:t="a}b{"}', (C("u", (A("t", "a}b{"),)),)),
    ("call-quoted-escape", r'{@u:t="say \"hi\""}', (C("u", (A("t", 'say "hi"'),)),)),
    ("call-ref-arg", "{@u:p={port}}", (C("u", (A("p", V("port")),)),)),
    ("call-env-arg", "{@u:p={$P:-1}}", (C("u", (A("p", E("P", "1")),)),)),
    (
        "call-typed-args",
        "{@u:a=true:b=null:c=0.5:d=010:e=y}",
        (C("u", (A("a", True), A("b", None), A("c", 0.5), A("d", "010"), A("e", "y"))),),
    ),
    ("escaped-braces", "{{x}}", ("{x}",)),
    ("escaped-around-ref", "{{{x}}}", ("{", V("x"), "}")),
    ("escaped-close-alone", "a}}b", ("a}b",)),
    ("lone-close", "x}", ("x}",)),
    ("lone-open", "{a", ("{a",)),
    ("digit-group", "{0}", ("{0}",)),
    ("json-group", '{"k": 1}', ('{"k": 1}',)),
    ("nested-json-group", '{"a": {"b": 1}}', ('{"a": {"b": 1}}',)),
    ("empty-group", "{}", ("{}",)),
    ("spaced-group", "{ n }", ("{ n }",)),
    ("hyphen-group", "{a-b}", ("{a-b}",)),
    ("negative-index", "{a[-1]}", ("{a[-1]}",)),
    ("leading-zero-index", "{a[01]}", ("{a[01]}",)),
    ("dollar-outside", "${x}", ("$", V("x"))),
    ("text-and-literal-group", "f({0}) = {y}", ("f({0}) = ", V("y"))),
]


@pytest.mark.parametrize(("text", "parts"), [c[1:] for c in SCANS], ids=[c[0] for c in SCANS])
def test_scan(text, parts):
    assert parse_template(text).parts == parts


@pytest.mark.parametrize(
    ("text", "single"),
    [("{n}", V("n")), ("{n} ", None), ("{{n}}", None), ("x{n}", None), ("{$A}", E("A"))],
    ids=["whole", "trailing-space", "escaped", "prefix", "env"],
)
def test_single_reference(text, single):
    assert parse_template(text).single == single


# (id, string, suggestion) -- groups that are almost references: literal text plus a warning
NEAR_MISSES = [
    ("both-sides", "{ n }", "{n}"),
    ("right", "{n }", "{n}"),
    ("left", "{ n}", "{n}"),
    ("nested", "{ a.b }", "{a.b}"),
    ("env", "{ $HOME }", "{$HOME}"),
    ("tab", "{\tn}", "{n}"),
    ("reference-inside-literal-group", '{"lr": {lr}}', '{{"lr": {lr}}}'),
]


@pytest.mark.parametrize(
    ("text", "suggestion"), [c[1:] for c in NEAR_MISSES], ids=[c[0] for c in NEAR_MISSES]
)
def test_near_miss(text, suggestion):
    template = parse_template(text)
    assert template.parts == (text,)
    assert [g.suggestion for g in template.near_misses] == [suggestion]
    assert template.bad_calls == ()


@pytest.mark.parametrize(
    "text",
    ["{0}", '{"k": 1}', "{}", "{ }", "{a b}", "{ 0 }"],
    ids=["digit", "json", "empty", "blank", "two-words", "spaced-digit"],
)
def test_literal_groups_are_not_near_misses(text):
    template = parse_template(text)
    assert template.parts == (text,) and template.near_misses == () and template.bad_calls == ()


# (id, string, fragment of the message) -- a group starting with "@" must be a good call
BAD_CALLS = [
    ("no-name", "{@}", "expected a name at column 3 of {@}, found the end"),
    ("no-value", "{@url:port}", "expected '=' at column 11 of {@url:port}, found the end"),
    ("empty-value", "{@url:port=}", "found the end"),
    ("space-after-colon", "{@url: port=1}", "expected a name at column 7"),
    ("double-equals", "{@url:p==1}", "expected '{' or a quoted value or a value"),
    ("trailing-colon", "{@url:p=1:}", "expected a name"),
    ("unclosed-quote", '{@url:p="a}', "bad definition call"),
]


@pytest.mark.parametrize(
    ("text", "message"), [c[1:] for c in BAD_CALLS], ids=[c[0] for c in BAD_CALLS]
)
def test_bad_call(text, message):
    bad = parse_template(text).bad_calls
    assert len(bad) == 1 and message in bad[0].message, bad


def test_reference_syntax_error_has_column():
    with pytest.raises(ReferenceSyntaxError) as info:
        parse_reference("@url:port")
    assert info.value.column == 11


FAST_PATH_BODIES = [
    "n",
    "num_rounds",
    "_x1",
    "SITE_NAME",
    "a.b",
    "a.b.c",
    "a[0]",
    "a[10].b",
    "a.b[2][3]",
    "$HOME",
    "$P:-8002",
    "$P:-",
    "$U:-grpc://h:1",
    "$D:- spaced : text ",
    "$_x",
    # not references: the fast path and the grammar must both refuse them
    "a[01]",
    "a[-1]",
    "a.",
    ".a",
    "a..b",
    "a[]",
    "1a",
    "a b",
    "$",
    "$1",
    "$A:",
    "$A-x",
    "$A:-{b}",
    "a.1",
    "",
    '"k": 1',
    "0",
    " n ",
    "n ",
    "a.b c",
    "{a}",
    "$A:-{",
    "a[0",
]


@pytest.mark.parametrize("body", FAST_PATH_BODIES, ids=[b or "empty" for b in FAST_PATH_BODIES])
def test_fast_path_agrees_with_grammar(body):
    from lark.exceptions import UnexpectedInput

    try:
        expected = _parser().parse(body)
    except UnexpectedInput:
        expected = None
    assert _fast_reference(body) == expected
    if expected is not None:
        assert parse_reference(body) == expected


# (id, text, value): the scalar rules shared by definition arguments and deploy-time values
SCALARS = [
    ("int", "8002", 8002),
    ("negative", "-3", -3),
    ("plus", "+5", 5),
    ("zero", "0", 0),
    ("float", "0.01", 0.01),
    ("exponent", "1e-3", 0.001),
    ("true", "true", True),
    ("false", "false", False),
    ("null", "null", None),
    ("leading-zero", "010", "010"),
    ("leading-zero-float", "00.5", "00.5"),
    ("trailing-dot", "1.", "1."),
    ("underscore", "1_000", "1_000"),
    ("hex", "0x1F", "0x1F"),
    ("inf", "inf", "inf"),
    ("nan", "nan", "nan"),
    ("yes", "yes", "yes"),
    ("y", "y", "y"),
    ("n", "n", "n"),
    ("no", "no", "no"),
    ("capital-true", "True", "True"),
    ("padded", " 5", " 5"),
    ("empty", "", ""),
    ("text", "grpc://h:1", "grpc://h:1"),
]


@pytest.mark.parametrize(("text", "value"), [c[1:] for c in SCALARS], ids=[c[0] for c in SCALARS])
def test_type_scalar(text, value):
    result = type_scalar(text)
    assert result == value and type(result) is type(value)


@pytest.mark.parametrize(
    "text",
    ["a{b}c", "{{lit}} {$X:-d} {SITE_NAME}", "x}}y", '{@u:p={q}:s="a:b"}', "{a.b[3]}"],
    ids=["ref", "escapes-env-system", "close-escape", "call", "path"],
)
def test_template_text_round_trips(text):
    parts = parse_template(text).parts
    assert parse_template(template_text(parts)).parts == parts


def test_escape_braces_makes_literal_text():
    text = 'f({x}) {{y}} {"k": 1}'
    assert parse_template(escape_braces(text)).parts == (text,)


@pytest.mark.parametrize(
    ("text", "scan"),
    [("abc", False), ("a{b", True), ("a}}b", True), ("a}b", False)],
    ids=["plain", "open", "escape", "close"],
)
def test_needs_scan(text, scan):
    assert needs_scan(text) is scan


def test_system_variables():
    assert {
        "SITE_NAME",
        "WORKSPACE",
        "JOB_ID",
        "ROOT_URL",
        "SECURE_MODE",
        "JOB_CUSTOM_DIR",
        "JOB_CONFIG_DIR",
    } == SYSTEM_VARIABLES


@pytest.mark.parametrize(
    "module",
    ["fljob.compiler.references", "fljob.compiler.resolve", "fljob.compiler.deploy_time"],
)
def test_docstring_examples(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0 and result.attempted > 0
