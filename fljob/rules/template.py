"""Rules for templates, template libraries and KEY=VALUE overrides (FLJ6xx).

FLJ60x: finding and reading templates; FLJ61x: template lint; FLJ62x: overrides;
FLJ63x: creating a job folder.
"""

from fljob.errors import Severity
from fljob.rules import Rule

E, W = Severity.ERROR, Severity.WARNING

RULES: list[Rule] = [
    # Finding and reading templates.
    Rule(
        "FLJ601",
        "unknown-template",
        E,
        "No template source holds a template of that name.",
        bad="fljob create -j job -w sag_pytorch",
        good="fljob create -j job -w sag_pt",
    ),
    Rule(
        "FLJ602",
        "bad-template-info",
        E,
        "A template's info.conf is missing, unreadable or has a field of the wrong type.",
        bad="controller_type = 3",
        good='controller_type = "server"',
    ),
    Rule(
        "FLJ603",
        "bad-variable-declaration",
        E,
        "A declared template variable has an unknown type, a malformed key or bad bounds.",
        bad='num_rounds { type = "integer!" }',
        good='num_rounds { type = "int" }',
    ),
    Rule(
        "FLJ604",
        "bad-template-source",
        W,
        "A template source folder (-d, FLJOB_TEMPLATES or the user config) does not exist "
        "or cannot be read.",
        bad="FLJOB_TEMPLATES=/no/such/dir",
        good="FLJOB_TEMPLATES=/opt/fl/templates",
    ),
    Rule(
        "FLJ605",
        "no-template-configs",
        E,
        "A template folder holds neither config files nor app folders with config files.",
    ),
    Rule(
        "FLJ606",
        "unknown-scaffold",
        E,
        "A template's info.conf names a scaffold that its library's _scaffolds/ folder "
        "does not hold.",
        bad='scaffold = "pt_cnm"',
        good='scaffold = "pt_cnn"',
    ),
    Rule(
        "FLJ607",
        "scaffold-outside-library",
        E,
        "A scaffold name is an absolute path, climbs with '..', or resolves (through a "
        "link) outside the template's library folder.",
        bad='scaffold = "../../shared/pt_cnn"',
        good='scaffold = "pt_cnn"',
    ),
    # Template lint.
    Rule(
        "FLJ611",
        "variable-key-missing",
        E,
        "A declared variable names a config key that does not exist in the template.",
        bad='key = "config_fed_server.conf:num_round"',
        good='key = "config_fed_server.conf:num_rounds"',
    ),
    Rule(
        "FLJ612",
        "default-type-mismatch",
        E,
        "A declared variable's default does not satisfy its own type, choices or bounds.",
        bad='{ type = "int", default = "five" }',
        good='{ type = "int", default = 5 }',
    ),
    Rule("FLJ613", "missing-info-md", W, "A template has no info.md describing it."),
    Rule(
        "FLJ614",
        "default-differs-from-config",
        W,
        "A declared default differs from the value the config file holds.",
        bad="default = 5 but num_rounds = 3 in the config",
        good="default = 3",
    ),
    Rule("FLJ615", "missing-meta", E, "A template has no meta.conf, meta.json or meta.yml."),
    # Overrides.
    Rule(
        "FLJ621",
        "override-syntax",
        E,
        "An override is not KEY=VALUE, +KEY=VALUE or KEY-.",
        bad="-f config_fed_server.conf num_rounds",
        good="-f config_fed_server.conf num_rounds=7",
    ),
    Rule(
        "FLJ622",
        "override-unknown-file",
        E,
        "The config file named by -f is not in the job (or is ambiguous between apps).",
        bad="-f config_fed_sever.conf ...",
        good="-f config_fed_server.conf ...",
    ),
    Rule(
        "FLJ623",
        "override-unknown-key",
        E,
        "An override names a key that the file does not hold.",
        bad="num_round=7",
        good="num_rounds=7",
    ),
    Rule(
        "FLJ624",
        "override-ambiguous-key",
        E,
        "A leaf name matches several keys in the file; give the full key path.",
        bad="script=...",
        good="components[0].args.script=...",
    ),
    Rule(
        "FLJ625",
        "override-bad-value",
        E,
        "An override's value does not convert to the key's declared or existing type, or "
        "breaks its choices or bounds.",
        bad="num_rounds=abc",
        good="num_rounds=7",
    ),
    Rule(
        "FLJ626",
        "override-cannot-edit",
        E,
        "The file cannot be edited in place at that key (e.g. a HOCON substitution or include).",
    ),
    # Creating a job folder.
    Rule(
        "FLJ631",
        "job-exists",
        E,
        "The job folder exists; pass --force to overwrite the template's files "
        "(other files are kept).",
        bad="fljob create -j existing_job -w sag_pt",
        good="fljob create -j existing_job -w sag_pt --force",
    ),
    Rule("FLJ632", "bad-script-dir", E, "The -sd script folder does not exist or is not a folder."),
]
