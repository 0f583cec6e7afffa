"""Rules for finding, reading and parsing spec files (FLJ0xx, FLJ1xx)."""

from fljob.errors import Severity
from fljob.rules import Rule

E, W = Severity.ERROR, Severity.WARNING

RULES = [
    Rule("FLJ001", "path-not-found", E, "A path named on the command line does not exist."),
    Rule("FLJ002", "usage", E, "The command was called wrongly or refuses to act."),
    Rule(
        "FLJ101",
        "syntax-error",
        E,
        "A spec file is not valid JSON, HOCON or YAML.",
        bad='{"num_rounds": 5,, }',
        good='{"num_rounds": 5}',
    ),
    Rule(
        "FLJ102",
        "missing-config",
        E,
        "A required config file (meta, server or client config) is missing.",
    ),
    Rule(
        "FLJ103",
        "shadowed-config",
        W,
        "Two formats of one config exist; the first in the order .json, .conf, .yml, .yaml wins.",
        bad="config_fed_client.json and config_fed_client.conf",
        good="config_fed_client.conf",
    ),
    Rule("FLJ104", "not-a-mapping", E, "A config file's top level is not an object."),
    Rule("FLJ105", "unreadable-file", E, "A spec file cannot be read or decoded as UTF-8."),
    Rule(
        "FLJ106",
        "duplicate-key",
        W,
        "A key appears twice in one object; the last one wins.",
        bad='{"a": 1, "a": 2}',
        good='{"a": 2}',
    ),
    Rule(
        "FLJ107",
        "unsupported-feature",
        E,
        "The file uses a format feature fljob does not support "
        "(e.g. HOCON include outside the job).",
    ),
    Rule(
        "FLJ108",
        "missing-include",
        W,
        "A HOCON include names a file that does not exist; it is skipped (as in pyhocon).",
        bad='include "common.conf"  # no such file',
        good='include required("common.conf")',
    ),
]
