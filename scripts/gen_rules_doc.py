"""Write docs/rules.md from the rule registry (``fljob.rules.all_rules()``).

    python scripts/gen_rules_doc.py          # rewrite docs/rules.md
    python scripts/gen_rules_doc.py --check  # exit 1 when docs/rules.md is out of date

tests/lint/test_rules_doc.py runs the check.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "rules.md"

AREAS = {
    "0": "Command line and files",
    "1": "Loading and syntax",
    "2": "Variables and references",
    "3": "Schemas, meta and deploy map",
    "4": "Component catalog",
    "5": "Safe-component policy",
    "6": "Templates and overrides",
    "7": "Bundles and runtime",
}
_MODULES = {
    "0": "load",
    "1": "load",
    "2": "resolve",
    "3": "validate",
    "4": "validate",
    "5": "validate",
    "6": "template",
    "7": "runtime",
}


def render() -> str:
    from fljob.rules import all_rules

    rules = all_rules()
    out = [
        "# fljob rules",
        "",
        "Every diagnostic fljob reports has a stable code. This page is generated from the",
        "rule registry (`fljob/rules/`) by `python scripts/gen_rules_doc.py`; do not edit it",
        "by hand. Silence one finding with a comment on its line (HOCON, YAML):",
        "`# fljob: ignore[FLJ301]`; select or ignore codes with `fljob lint --select/--ignore`.",
        "",
        "| code | name | severity | summary |",
        "|---|---|---|---|",
    ]
    out += [
        f"| [{r.code}](#{r.code.lower()}) | {r.name} | {r.severity.value} | {r.summary} |"
        for r in rules.values()
    ]
    area = None
    for rule in rules.values():
        digit = rule.code[3]
        if digit != area:
            area = digit
            out += ["", f"## FLJ{digit}xx: {AREAS.get(digit, 'Other')}", ""]
        out += [
            f"### {rule.code}",
            "",
            f"**{rule.name}** ({rule.severity.value}): {rule.summary}",
            "",
        ]
        if rule.bad or rule.good:
            out += [
                "Bad:",
                "",
                "```",
                rule.bad or "(none)",
                "```",
                "",
                "Good:",
                "",
                "```",
                rule.good or "(none)",
                "```",
                "",
            ]
        else:
            module = _MODULES.get(digit, "?")
            out += [f"_No example recorded yet (add `bad`/`good` to fljob/rules/{module}.py)._", ""]
    return "\n".join(out).rstrip("\n") + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the file is stale")
    args = parser.parse_args()
    text = render()
    if args.check:
        if not DOC.is_file() or DOC.read_text(encoding="utf-8") != text:
            print(f"{DOC} is out of date: run python scripts/gen_rules_doc.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
