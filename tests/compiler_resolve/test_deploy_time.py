"""Deploy time: a site fills in system and environment variables of the template strings."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest

from fljob.compiler.keypath import format_key_path
from fljob.compiler.resolve import resolve_config, resolve_deploy_time
from fljob.errors import ResolveError, UndefinedVariableError
from tests.compiler_resolve.helpers import CLIENT_KEY, load_json

SYSTEM = {
    "SITE_NAME": "site-1",
    "WORKSPACE": "/ws/site-1",
    "JOB_ID": "3f2a",
    "ROOT_URL": "grpc://127.0.0.1:8002",
    "SECURE_MODE": "true",
    "JOB_CUSTOM_DIR": "/ws/site-1/3f2a/app/custom",
    "JOB_CONFIG_DIR": "/ws/site-1/3f2a/app/config",
}

# (id, config as written, env, expected value of "x" on site-1)
ROUND_TRIPS = [
    ("system", {"x": "{SITE_NAME}"}, {}, "site-1"),
    ("system-interpolated", {"x": "{WORKSPACE}/data"}, {}, "/ws/site-1/data"),
    ("system-typed-bool", {"x": "{SECURE_MODE}"}, {}, True),
    ("env", {"x": "{$DATA}"}, {"DATA": "/data"}, "/data"),
    ("env-typed-int", {"x": "{$PORT}"}, {"PORT": "8002"}, 8002),
    ("env-typed-float", {"x": "{$LR}"}, {"LR": "0.5"}, 0.5),
    ("env-leading-zero-stays-text", {"x": "{$CODE}"}, {"CODE": "010"}, "010"),
    ("env-yes-stays-text", {"x": "{$FLAG}"}, {"FLAG": "yes"}, "yes"),
    ("env-interpolated-stays-text", {"x": "p{$PORT}"}, {"PORT": "8002"}, "p8002"),
    ("env-default", {"x": "{$PORT:-8002}"}, {}, 8002),
    ("env-default-text", {"x": "{$URL:-grpc://h:1}"}, {}, "grpc://h:1"),
    ("env-empty-default", {"x": "a{$X:-}b"}, {}, "ab"),
    ("env-beats-default", {"x": "{$PORT:-8002}"}, {"PORT": "9"}, 9),
    ("env-empty-takes-default", {"x": "{$X:-d}"}, {"X": ""}, "d"),
    ("env-empty-without-default", {"x": "<{$X}>"}, {"X": ""}, "<>"),
    ("never-rescan-env", {"x": "{$V}"}, {"V": "{x}"}, "{x}"),
    ("never-rescan-env-escapes", {"x": "a{$V}"}, {"V": "{{y}}"}, "a{{y}}"),
    ("never-rescan-system", {"x": "{SITE_NAME}", "n": 1}, {}, "site-1"),
    ("literal-braces", {"x": "{JOB_ID}: {0} {{n}}"}, {}, "3f2a: {0} {n}"),
    ("user-escape-kept", {"v": "{{x}}", "x": "{SITE_NAME}-{v}"}, {}, "site-1-{x}"),
    ("user-and-env", {"n": 3, "x": "{WORKSPACE}/r{n}/{$RUN:-a}"}, {}, "/ws/site-1/r3/a"),
    ("typed-ref-to-template", {"u": "{$URL}", "x": "{u}"}, {"URL": "grpc://s:1"}, "grpc://s:1"),
    ("inside-object", {"d": {"w": "{WORKSPACE}"}, "x": "{d}"}, {}, {"w": "/ws/site-1"}),
    (
        "pvd-env-argument",
        {"@u": "grpc://{h}:1", "x": "{@u:h={$HOST}}"},
        {"HOST": "srv"},
        "grpc://srv:1",
    ),
]


@pytest.mark.parametrize(
    ("config", "env", "expected"), [c[1:] for c in ROUND_TRIPS], ids=[c[0] for c in ROUND_TRIPS]
)
def test_compile_then_deploy(tmp_path, config, env, expected):
    resolved = resolve_config(load_json(tmp_path, config), CLIENT_KEY)
    # the bundle stores the data as JSON and key paths as text, as in the MANIFEST
    data = json.loads(json.dumps(resolved.data))
    refs = {format_key_path(p): sorted(n) for p, n in resolved.deploy_refs.items()}
    before = copy.deepcopy(data)
    site = resolve_deploy_time(data, refs, system=SYSTEM, env=env)
    assert site["x"] == expected and type(site["x"]) is type(expected)
    assert data == before  # the input is left as it is


def test_tuple_key_paths_and_untouched_strings():
    data = {"a": [{"b": "{SITE_NAME}"}], "c": "{SITE_NAME}", "d": "{{x}}"}
    site = resolve_deploy_time(
        data, {("a", 0, "b"): frozenset({"SITE_NAME"})}, system=SYSTEM, env={}
    )
    # only listed strings are template strings; every other string is final text already
    assert site == {"a": [{"b": "site-1"}], "c": "{SITE_NAME}", "d": "{{x}}"}


def test_non_string_system_value():
    data = {"s": "{SECURE_MODE}", "t": "tls={SECURE_MODE}"}
    site = resolve_deploy_time(data, {"s": [], "t": []}, system={"SECURE_MODE": True}, env={})
    assert site == {"s": True, "t": "tls=true"}


# (id, data, deploy_refs, system, env, error class, [(code, key path, message part)])
FAILURES = [
    (
        "env-unset",
        {"a": {"b": "{$DATA}"}},
        {"a.b": ["$DATA"]},
        SYSTEM,
        {},
        UndefinedVariableError,
        [("FLJ207", "a.b", "environment variable DATA is not set and {$DATA} gives no default")],
    ),
    (
        "system-missing",
        {"u": "{ROOT_URL}"},
        {"u": ["ROOT_URL"]},
        {"SITE_NAME": "server"},
        {},
        ResolveError,
        [("FLJ208", "u", "system variable ROOT_URL has no value on this site")],
    ),
    (
        "path-missing",
        {"a": 1},
        {"b.c": ["SITE_NAME"]},
        SYSTEM,
        {},
        ResolveError,
        [("FLJ209", "b.c", "holds no string")],
    ),
    (
        "path-not-string",
        {"a": [1]},
        {"a[0]": ["SITE_NAME"]},
        SYSTEM,
        {},
        ResolveError,
        [("FLJ209", "a[0]", "holds no string")],
    ),
    (
        "bad-path-text",
        {"a": 1},
        {"a..b": []},
        SYSTEM,
        {},
        ResolveError,
        [("FLJ209", "a..b", "bad key path")],
    ),
    (
        "user-reference-left",
        {"a": "{n}"},
        {"a": []},
        SYSTEM,
        {},
        ResolveError,
        [("FLJ209", "a", "{n} is not a deploy-time reference")],
    ),
    (
        "all-at-once",
        {"a": "{$A}", "b": "{$B}-{ROOT_URL}"},
        {"a": ["$A"], "b": ["$B", "ROOT_URL"]},
        {},
        {},
        ResolveError,
        [
            ("FLJ207", "a", "A is not set"),
            ("FLJ207", "b", "B is not set"),
            ("FLJ208", "b", "ROOT_URL"),
        ],
    ),
]


@pytest.mark.parametrize(
    ("data", "refs", "system", "env", "kind", "expected"),
    [c[1:] for c in FAILURES],
    ids=[c[0] for c in FAILURES],
)
def test_deploy_failures(data, refs, system, env, kind, expected):
    with pytest.raises(ResolveError) as info:
        resolve_deploy_time(data, refs, system=system, env=env, source="app/config/c.json")
    assert type(info.value) is kind
    found = info.value.diagnostics()
    assert [(d.code, d.key_path) for d in found] == [(c, p) for c, p, _ in expected]
    for diagnostic, (_, _, message) in zip(found, expected, strict=True):
        assert message in diagnostic.message
        assert diagnostic.file == "app/config/c.json"


def test_import_stays_light():
    """The runtime imports this module on every site: no loaders, pyhocon, YAML or click."""
    code = (
        "import sys, fljob.compiler.resolve as r;"
        "r.resolve_deploy_time({'a': '{$X:-1}'}, {'a': ['$X']}, system={}, env={});"
        "bad = [m for m in ('pyhocon', 'yaml', 'click', 'jsonschema', 'fljob.compiler.load',"
        " 'fljob.compiler.formats', 'torch', 'grpc') if m in sys.modules];"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
