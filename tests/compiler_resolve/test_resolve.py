"""Compile-time resolution of one config file: successes and errors side by side."""

from __future__ import annotations

import json

import pytest

from fljob.compiler.keypath import parse_key_path
from fljob.compiler.load import load_document
from fljob.compiler.resolve import resolve_config
from fljob.errors import (
    DiagnosticCollector,
    ResolveError,
    Severity,
    UndefinedVariableError,
    VariableCycleError,
)
from tests.compiler_resolve.helpers import CLIENT_KEY, load_json, position, write_json

URL = {"@url": "grpc://{host}:{port}"}

# (id, config, key path, expected value) -- the resolved value at that key path
SUCCESSES = [
    ("typed-int", {"n": 5, "x": "{n}"}, "x", 5),
    ("typed-float", {"lr": 0.01, "x": "{lr}"}, "x", 0.01),
    ("typed-bool", {"f": False, "x": "{f}"}, "x", False),
    ("typed-null", {"z": None, "x": "{z}"}, "x", None),
    ("typed-dict", {"d": {"a": [1, 2]}, "x": "{d}"}, "x", {"a": [1, 2]}),
    ("typed-list", {"l": [1, "two"], "x": "{l}"}, "x", [1, "two"]),
    ("typed-string", {"s": "010", "x": "{s}"}, "x", "010"),
    ("interpolate-int", {"n": 5, "x": "n={n}"}, "x", "n=5"),
    ("interpolate-float", {"lr": 0.01, "x": "--lr {lr}"}, "x", "--lr 0.01"),
    ("interpolate-bool", {"f": True, "x": "--flag {f}"}, "x", "--flag true"),
    ("interpolate-null", {"z": None, "x": "z={z}"}, "x", "z=null"),
    (
        "interpolate-many",
        {"a": "train.py", "lr": 0.1, "x": "custom/{a} --lr {lr}"},
        "x",
        "custom/train.py --lr 0.1",
    ),
    ("nested-key", {"m": {"args": {"lr": 0.5}}, "x": "{m.args.lr}"}, "x", 0.5),
    ("nested-index", {"s": ["a", "b"], "x": "{s[1]}"}, "x", "b"),
    ("nested-deep", {"a": {"l": [{"k": [7]}]}, "x": "{a.l[0].k[0]}"}, "x", 7),
    ("nested-through-ref", {"b": {"k": 1}, "a": "{b}", "x": "{a.k}"}, "x", 1),
    ("nested-resolved-leaf", {"n": 3, "a": {"k": "{n}"}, "x": "{a.k}"}, "x", 3),
    ("chain", {"a": "{b}", "b": "{c}", "c": 3}, "a", 3),
    ("chain-interpolated", {"a": "x{b}", "b": "y{c}", "c": "z"}, "a", "xyz"),
    ("sibling-not-a-cycle", {"a": {"b": 1, "c": "{a.b}"}}, "a.c", 1),
    ("inside-list", {"n": 2, "w": [{"args": {"r": "{n}"}}]}, "w[0].args.r", 2),
    ("escaped-braces", {"x": "{{n}}"}, "x", "{n}"),
    ("escaped-close", {"x": "a}}b"}, "x", "a}b"),
    ("escape-around-ref", {"n": 1, "x": "{{{n}}}"}, "x", "{1}"),
    ("literal-digit-group", {"x": "{0}"}, "x", "{0}"),
    ("literal-json-group", {"x": '{"k": 1}'}, "x", '{"k": 1}'),
    ("literal-empty-group", {"x": "{}"}, "x", "{}"),
    ("literal-hyphen-group", {"x": "{a-b}"}, "x", "{a-b}"),
    ("lone-brace", {"x": "{a"}, "x", "{a"),
    ("never-rescan-typed", {"v": "{{x}}", "x": 1, "y": "{v}"}, "y", "{x}"),
    ("never-rescan-interpolated", {"v": "{{x}}", "x": 1, "y": "a{v}"}, "y", "a{x}"),
    ("never-rescan-literal-group", {"v": "{0}", "y": "<{v}>"}, "y", "<{0}>"),
    ("pvd", {**URL, "u": "{@url:host=h:port=8002}"}, "u", "grpc://h:8002"),
    ("pvd-quoted-arg", {**URL, "u": '{@url:host="a:b=c":port=1}'}, "u", "grpc://a:b=c:1"),
    ("pvd-ref-arg", {**URL, "p": 9, "u": "{@url:host=h:port={p}}"}, "u", "grpc://h:9"),
    (
        "pvd-typed-args",
        {
            "@cfg": {"port": "{port}", "tls": "{tls}", "r": "{r}", "z": "{z}"},
            "c": "{@cfg:port=8002:tls=true:r=0.5:z=null}",
        },
        "c",
        {"port": 8002, "tls": True, "r": 0.5, "z": None},
    ),
    ("pvd-quoted-arg-is-literal", {"x": 1, "@d": "<{v}>", "c": '{@d:v="{x}"}'}, "c", "<{x}>"),
    ("pvd-leading-zero-arg", {"@d": "{v}", "c": "{@d:v=010}"}, "c", "010"),
    ("pvd-yes-arg", {"@d": "{v}", "c": "{@d:v=y}"}, "c", "y"),
    ("pvd-quoted-number", {"@d": "{v}", "c": '{@d:v="5"}'}, "c", "5"),
    ("pvd-no-args", {"@d": {"k": 1}, "c": "{@d}"}, "c", {"k": 1}),
    ("pvd-interpolated", {**URL, "u": "see {@url:host=h:port=1}!"}, "u", "see grpc://h:1!"),
    (
        "pvd-shadows-variable",
        {"host": "global", **URL, "u": "{@url:host=mine:port=1}"},
        "u",
        "grpc://mine:1",
    ),
    ("pvd-uses-variable", {"host": "global", "@d": "{host}:{p}", "u": "{@d:p=1}"}, "u", "global:1"),
    ("pvd-nested-call", {"@a": "{@b:x={y}}", "@b": "<{x}>", "v": "{@a:y=1}"}, "v", "<1>"),
    ("pvd-param-path", {"@d": "{c.k}", "v": "{@d:c={cfg}}", "cfg": {"k": 4}}, "v", 4),
    ("pvd-in-variable", {**URL, "u": "{@url:host=h:port=1}", "x": "{u}/x"}, "x", "grpc://h:1/x"),
]


def _value(data, path):
    for part in parse_key_path(path):
        data = data[part]
    return data


@pytest.mark.parametrize(
    ("config", "path", "expected"), [c[1:] for c in SUCCESSES], ids=[c[0] for c in SUCCESSES]
)
def test_resolves(tmp_path, config, path, expected):
    resolved = resolve_config(load_json(tmp_path, config), CLIENT_KEY)
    value = _value(resolved.data, path)
    assert value == expected and type(value) is type(expected)
    assert not any(key.startswith("@") for key in resolved.data)
    assert resolved.deploy_refs == {}


# (id, config, key path, template-form text, names) -- deploy-time references stay
DEPLOY_TIME = [
    ("system", {"x": "{SITE_NAME}"}, "x", "{SITE_NAME}", {"SITE_NAME"}),
    ("system-interpolated", {"x": "{WORKSPACE}/data"}, "x", "{WORKSPACE}/data", {"WORKSPACE"}),
    ("env", {"x": "{$DATA_DIR}"}, "x", "{$DATA_DIR}", {"$DATA_DIR"}),
    ("env-default", {"x": "{$PORT:-8002}"}, "x", "{$PORT:-8002}", {"$PORT"}),
    (
        "literal-braces-escaped",
        {"x": "{JOB_ID}: {0} {{n}}"},
        "x",
        "{JOB_ID}: {{0}} {{n}}",
        {"JOB_ID"},
    ),
    (
        "user-value-escaped",
        {"v": "{{x}}", "x": "{SITE_NAME}-{v}"},
        "x",
        "{SITE_NAME}-{{x}}",
        {"SITE_NAME"},
    ),
    ("user-interpolated", {"n": 3, "x": "{WORKSPACE}/r{n}"}, "x", "{WORKSPACE}/r3", {"WORKSPACE"}),
    ("typed-ref-carries", {"u": "{$URL}", "x": "{u}"}, "x", "{$URL}", {"$URL"}),
    (
        "typed-dict-carries",
        {"d": {"w": "{WORKSPACE}"}, "x": "{d}"},
        "x.w",
        "{WORKSPACE}",
        {"WORKSPACE"},
    ),
    (
        "interpolated-carries",
        {"u": "{$HOST}", "x": "grpc://{u}:1"},
        "x",
        "grpc://{$HOST}:1",
        {"$HOST"},
    ),
    ("pvd-env-arg", {**URL, "x": "{@url:host={$HOST}:port=1}"}, "x", "grpc://{$HOST}:1", {"$HOST"}),
    (
        "pvd-body-system",
        {"@d": "{WORKSPACE}/{p}", "x": "{@d:p=a}"},
        "x",
        "{WORKSPACE}/a",
        {"WORKSPACE"},
    ),
    ("two-kinds", {"x": "{SITE_NAME}@{$HOST}"}, "x", "{SITE_NAME}@{$HOST}", {"SITE_NAME", "$HOST"}),
    ("system-wins", {"SITE_NAME": "mine", "x": "{SITE_NAME}"}, "x", "{SITE_NAME}", {"SITE_NAME"}),
]


@pytest.mark.parametrize(
    ("config", "path", "text", "names"),
    [c[1:] for c in DEPLOY_TIME],
    ids=[c[0] for c in DEPLOY_TIME],
)
def test_deploy_time_references_stay(tmp_path, config, path, text, names):
    resolved = resolve_config(load_json(tmp_path, config), CLIENT_KEY)
    assert _value(resolved.data, path) == text
    assert resolved.deploy_refs[parse_key_path(path)] == frozenset(names)


def test_resolved_config_records_variables(tmp_path):
    config = {
        "format_version": 2,
        "n": 5,
        "app_script": "train.py",
        "url": "{$URL}",
        "unused": 1,
        "@d": "{v}",
        "executors": [
            {
                "tasks": ["train"],
                "executor": {
                    "args": {
                        "script": "python custom/{app_script} {$EXTRA:-} {$EXTRA:-x}",
                        "rounds": "{n}",
                        "where": "{WORKSPACE}/{SITE_NAME}",
                        "d": "{@d:v={$P:-1}}",
                        "u": "{url}",
                    }
                },
            }
        ],
    }
    resolved = resolve_config(load_json(tmp_path, config), CLIENT_KEY)
    assert resolved.key == CLIENT_KEY
    assert dict(resolved.variables) == {"app_script": "train.py", "n": 5, "url": "{$URL}"}
    assert resolved.system_variables == {"WORKSPACE", "SITE_NAME"}
    # the first default of a variable is recorded; None when any use has no default
    assert dict(resolved.environment_variables) == {"EXTRA": "", "P": "1", "URL": None}
    args = ("executors", 0, "executor", "args")
    assert set(resolved.deploy_refs) == {
        ("url",),
        (*args, "script"),
        (*args, "where"),
        (*args, "d"),
        (*args, "u"),
    }
    assert "@d" not in resolved.data and resolved.data["unused"] == 1


def test_output_containers_are_not_shared(tmp_path):
    resolved = resolve_config(
        load_json(tmp_path, {"d": {"k": [1]}, "a": "{d}", "b": "{d}"}), CLIENT_KEY
    )
    assert resolved.data["a"] == resolved.data["b"] == resolved.data["d"]
    assert resolved.data["a"] is not resolved.data["b"]
    assert resolved.data["a"]["k"] is not resolved.variables["d"]["k"]


# (id, config, code, key path of the string holding the bad reference, message part, hint part)
ERRORS = [
    (
        "undefined",
        {"num_rounds": 5, "x": "{num_round}"},
        "FLJ201",
        "x",
        "no variable 'num_round'",
        "did you mean {num_rounds}?",
    ),
    (
        "undefined-interpolated",
        {"x": "a {b} c"},
        "FLJ201",
        "x",
        "no variable 'b'",
        "define it as a top-level key of this file, or write {{b}} for literal braces",
    ),
    (
        "undefined-in-list",
        {"w": [{"args": {"r": "{rounds}"}}]},
        "FLJ201",
        "w[0].args.r",
        "no variable 'rounds'",
        None,
    ),
    ("undefined-after-dollar", {"x": "${HOME}"}, "FLJ201", "x", "no variable 'HOME'", "{$HOME}"),
    (
        "missing-key",
        {"a": {"learning_rate": 1}, "x": "{a.learning_rat}"},
        "FLJ201",
        "x",
        "a has no key 'learning_rat'",
        "did you mean learning_rate?",
    ),
    (
        "index-out-of-range",
        {"s": [1, 2], "x": "{s[2]}"},
        "FLJ201",
        "x",
        "s has 2 item(s), so [2] is out of range",
        None,
    ),
    (
        "key-into-scalar",
        {"n": 5, "x": "{n.k}"},
        "FLJ201",
        "x",
        "n is an integer, not an object",
        None,
    ),
    (
        "index-into-object",
        {"d": {"k": 1}, "x": "{d[0]}"},
        "FLJ201",
        "x",
        "d is an object, not a list",
        None,
    ),
    (
        "key-into-resolved-string",
        {"s": "{t}", "t": "abc", "x": "{s.k}"},
        "FLJ201",
        "x",
        "s is a string, not an object",
        None,
    ),
    ("cycle-self", {"a": "{a}"}, "FLJ202", "a", "a -> a", None),
    ("cycle-two", {"a": "{b}", "b": "{a}"}, "FLJ202", "b", "a -> b -> a", None),
    (
        "cycle-three",
        {"a": "x{b}", "b": "{c}", "c": "{a}y"},
        "FLJ202",
        "c",
        "a -> b -> c -> a",
        None,
    ),
    ("cycle-through-object", {"a": {"k": "{a}"}}, "FLJ202", "a.k", "a -> a.k -> a", None),
    ("cycle-through-definition", {"@d": "{x}", "x": "{@d}"}, "FLJ202", "x", "x -> @d -> x", None),
    (
        "cycle-definition-calls-itself",
        {"@d": "<{@d}>", "x": "{@d}"},
        "FLJ202",
        "x",
        "@d -> @d",
        None,
    ),
    (
        "system-typo",
        {"x": "{SITE_NAM}"},
        "FLJ203",
        "x",
        "SITE_NAM is not a system variable",
        "did you mean {SITE_NAME}?",
    ),
    (
        "upper-case-unknown",
        {"x": "{DATA_DIR}/a"},
        "FLJ203",
        "x",
        "DATA_DIR is neither a variable of this file nor a system variable",
        "{$DATA_DIR}",
    ),
    (
        "system-with-key",
        {"x": "{SITE_NAME.k}"},
        "FLJ203",
        "x",
        "system variable SITE_NAME has no",
        "{SITE_NAME}",
    ),
    (
        "call-undefined",
        {"@url": "u", "x": "{@ulr}"},
        "FLJ204",
        "x",
        "calls @ulr, which is not defined",
        "did you mean @url?",
    ),
    (
        "call-syntax",
        {**URL, "x": "{@url:port}"},
        "FLJ204",
        "x",
        "expected '='",
        "{@name:key=value:key=value}",
    ),
    ("call-unclosed", {**URL, "x": "{@url:port=1"}, "FLJ204", "x", "no closing '}'", None),
    (
        "call-unknown-argument",
        {**URL, "x": "{@url:host=h:port=1:prot=2}"},
        "FLJ204",
        "x",
        "@url has no parameter 'prot'",
        "did you mean port?",
    ),
    (
        "call-twice-bound",
        {**URL, "x": "{@url:host=h:host=i:port=1}"},
        "FLJ204",
        "x",
        "binds 'host' twice",
        None,
    ),
    (
        "call-undefined-argument-ref",
        {**URL, "x": "{@url:host={nope}:port=1}"},
        "FLJ201",
        "x",
        "no variable 'nope'",
        None,
    ),
    (
        "unbound-parameter",
        {**URL, "x": "{@url:host=h}"},
        "FLJ205",
        "x",
        "{port} in @url is not bound by the call {@url:host=h}",
        "port=VALUE",
    ),
    (
        "interpolate-object",
        {"d": {"k": 1}, "x": "a{d}"},
        "FLJ206",
        "x",
        "{d} is an object and cannot be interpolated",
        '"{d}"',
    ),
    ("interpolate-list", {"l": [1], "x": "a{l}"}, "FLJ206", "x", "{l} is a list", None),
    (
        "interpolate-call-object",
        {"@d": {"k": 1}, "x": "a{@d}"},
        "FLJ206",
        "x",
        "{@d} is an object",
        None,
    ),
    (
        "error-in-definition-body",
        {"@d": "{p.k}", "x": "{@d:p=1}"},
        "FLJ201",
        "@d",
        "p is an integer, not an object",
        None,
    ),
]


@pytest.mark.parametrize(
    ("config", "code", "path", "message", "hint"),
    [c[1:] for c in ERRORS],
    ids=[c[0] for c in ERRORS],
)
def test_errors(tmp_path, config, code, path, message, hint):
    file = write_json(tmp_path, config)
    document = load_json(tmp_path, config)
    with pytest.raises(ResolveError) as info:
        resolve_config(document, CLIENT_KEY)
    errors = [d for d in info.value.diagnostics() if d.is_error]
    assert len(errors) == 1, [d.format() for d in errors]
    (error,) = errors
    assert (error.code, error.key_path, error.file) == (code, path, str(file))
    # the location is the string that holds the bad reference
    assert (error.line, error.col) == position(file, json.dumps(_value(config, path)))
    assert message in error.message, error.message
    if hint is not None:
        assert error.hint and hint in error.hint, error.hint


@pytest.mark.parametrize(
    ("config", "kind"),
    [
        ({"x": "{a}", "y": "{b.c}"}, UndefinedVariableError),
        ({"x": "{SITE_NAM}", "y": "{a}"}, UndefinedVariableError),
        ({"a": "{b}", "b": "{a}"}, VariableCycleError),
        ({"x": "{a}", "b": "{b}"}, ResolveError),
    ],
    ids=["undefined", "undefined-and-system", "cycle", "mixed"],
)
def test_error_class(tmp_path, config, kind):
    with pytest.raises(ResolveError) as info:
        resolve_config(load_json(tmp_path, config), CLIENT_KEY)
    assert type(info.value) is kind


def test_every_error_is_collected_once(tmp_path):
    config = {
        "bad": "{nope}",
        "a": "{bad}",
        "b": "x{bad}",
        "c": "{a}{b}",
        "d": "{other}",
        "cyc": "{cyc}",
        "e": "{cyc}",
    }
    with pytest.raises(ResolveError) as info:
        resolve_config(load_json(tmp_path, config), CLIENT_KEY)
    errors = [(d.code, d.key_path) for d in info.value.diagnostics() if d.is_error]
    assert errors == [("FLJ201", "bad"), ("FLJ201", "d"), ("FLJ202", "cyc")]


def test_collector_gets_errors_and_warnings_without_raising(tmp_path):
    collector = DiagnosticCollector()
    config = {"executors": ["{nope}", "{ x }"], "unused": 1}
    resolved = resolve_config(load_json(tmp_path, config), CLIENT_KEY, collector=collector)
    assert resolved.data["executors"] == [None, "{ x }"]
    codes = [(d.code, d.key_path, d.severity.value) for d in collector.items]
    assert codes == [
        ("FLJ201", "executors[0]", "error"),
        ("FLJ213", "executors[1]", "warning"),
        ("FLJ211", "unused", "warning"),
    ]


# (id, config, key, code, key path, message part, hint part) -- warnings never raise
WARNINGS = [
    (
        "unused",
        {"n": 1, "format_version": 2},
        CLIENT_KEY,
        "FLJ211",
        "n",
        "variable 'n' is never used",
        "{n}",
    ),
    (
        "unused-definition",
        {"@d": 1},
        CLIENT_KEY,
        "FLJ211",
        "@d",
        "definition @d is never called",
        "{@d}",
    ),
    (
        "system-name",
        {"SITE_NAME": "x", "executors": ["{SITE_NAME}"]},
        CLIENT_KEY,
        "FLJ212",
        "SITE_NAME",
        "SITE_NAME has the name of a system variable",
        "site_name",
    ),
    ("system-name-in-meta", {"JOB_ID": "x"}, "meta", "FLJ212", "JOB_ID", "system variable", None),
    (
        "near-miss",
        {"n": 1, "executors": ["{ n }", "{n}"]},
        CLIENT_KEY,
        "FLJ213",
        "executors[0]",
        "'{ n }' is literal text",
        "did you mean {n}?",
    ),
    (
        "near-miss-right",
        {"n": 1, "workflows": ["a {n } b", "{n}"]},
        CLIENT_KEY,
        "FLJ213",
        "workflows[0]",
        "'{n }' is literal text",
        "did you mean {n}?",
    ),
]


@pytest.mark.parametrize(
    ("config", "key", "code", "path", "message", "hint"),
    [c[1:] for c in WARNINGS],
    ids=[c[0] for c in WARNINGS],
)
def test_warnings(tmp_path, config, key, code, path, message, hint):
    collector = DiagnosticCollector()
    file = write_json(tmp_path, config)
    resolve_config(load_json(tmp_path, config), key, collector=collector)
    assert [(d.code, d.key_path) for d in collector.items] == [(code, path)]
    (warning,) = collector.items
    assert warning.severity is Severity.WARNING and warning.file == str(file)
    assert message in warning.message
    if hint is not None:
        assert hint in warning.hint
    resolve_config(load_json(tmp_path, config), key)  # warnings alone never raise


@pytest.mark.parametrize(
    "config",
    [
        {
            "format_version": 2,
            "workflows": [],
            "components": [],
            "executors": [],
            "task_data_filters": [],
            "task_result_filters": [],
            "server": {},
        },
        {"a": 1, "workflows": [{"args": {"n": "{a}"}}]},
    ],
    ids=["structural-keys", "used"],
)
def test_no_unused_warning(tmp_path, config):
    collector = DiagnosticCollector()
    resolve_config(
        load_json(tmp_path, config, "config_fed_server.json"), "app/config/x", collector=collector
    )
    assert collector.items == []


def test_meta_has_no_unused_warnings(tmp_path):
    collector = DiagnosticCollector()
    meta = {"name": "job", "min_clients": 2, "deploy_map": {"app": ["@ALL"]}, "extra": 1}
    resolved = resolve_config(load_json(tmp_path, meta, "meta.json"), "meta", collector=collector)
    assert collector.items == [] and resolved.data == meta


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "rounds: 3\nworkflows:\n  - args: {n: {rounds}}\n",
            [("FLJ213", "workflows[0].args.n", 3), ("FLJ211", "rounds", 1)],
        ),
        ("workflows:\n  - {$HOME}\n", [("FLJ213", "workflows[0]", 2)]),
        ('rounds: 3\nworkflows:\n  - args: {n: "{rounds}", m: {k: null}, o: {k: }}\n', []),
    ],
    ids=["unquoted-reference", "unquoted-env", "quoted"],
)
def test_unquoted_yaml_reference(tmp_path, text, expected):
    path = tmp_path / "config_fed_client.yml"
    path.write_text(text, encoding="utf-8")
    collector = DiagnosticCollector()
    resolve_config(load_document(path), CLIENT_KEY, collector=collector)
    assert [(d.code, d.key_path, d.line) for d in collector.items] == expected
    if expected:
        assert collector.items[0].hint.startswith('quote it: "{')
