"""Rules for variables and references (FLJ2xx)."""

from fljob.errors import Severity
from fljob.rules import Rule

E, W = Severity.ERROR, Severity.WARNING

RULES = [
    Rule(
        "FLJ201",
        "undefined-variable",
        E,
        "A reference names a variable that is not defined.",
        bad='num_rounds = "{rounds}"',
        good='rounds = 5\nnum_rounds = "{rounds}"',
    ),
    Rule(
        "FLJ202",
        "variable-cycle",
        E,
        "Variables refer to each other in a cycle.",
        bad='a = "{b}"\nb = "{a}"',
        good='a = 1\nb = "{a}"',
    ),
    Rule(
        "FLJ203",
        "unknown-system-variable",
        E,
        "A reference looks like a system variable but is not one.",
        bad='"{SITE_NAM}"',
        good='"{SITE_NAME}"',
    ),
    Rule(
        "FLJ204",
        "bad-definition-call",
        E,
        "A parameterized definition is called with a bad argument list or is not defined.",
        bad='"{@url:port}"',
        good='"{@url:port=8002}"',
    ),
    Rule(
        "FLJ205",
        "unbound-parameter",
        E,
        "A parameterized definition uses a parameter the call does not bind.",
        bad='"@url" = "grpc://{host}:{port}"\nurl = "{@url:host=h}"',
        good='"@url" = "grpc://{host}:{port}"\nurl = "{@url:host=h:port=8002}"',
    ),
    Rule(
        "FLJ206",
        "bad-interpolation",
        E,
        "A non-string value (object, list) is interpolated into a longer string.",
    ),
    Rule(
        "FLJ207",
        "undefined-environment-variable",
        E,
        "An environment variable is neither set nor given a default (at render or deploy time).",
    ),
    Rule(
        "FLJ208",
        "missing-system-variable",
        E,
        "A system variable has no value on the site that deploys the job (e.g. ROOT_URL on "
        "the server).",
    ),
    Rule(
        "FLJ209",
        "bad-deploy-reference",
        E,
        "A bundle's deploy_refs lists a key path that holds no template string, or a template "
        "string holds a reference that is not a system or environment variable.",
    ),
    Rule("FLJ211", "unused-variable", W, "A variable is defined and never used."),
    Rule(
        "FLJ212",
        "shadowed-by-system-variable",
        W,
        "A user variable has the name of a system variable, which wins at deploy time.",
    ),
    Rule(
        "FLJ213",
        "near-miss-reference",
        W,
        "A brace group looks like a reference but is not one (e.g. spaces inside).",
        bad='"{ num_rounds }"',
        good='"{num_rounds}"',
    ),
]
