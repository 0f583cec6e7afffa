"""The rule registry and docs/rules.md agree; validation rules are documented with examples."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from fljob.rules import all_rules
from fljob.rules import validate as validate_rules

REPO = Path(__file__).resolve().parents[2]


def _generator():
    spec = importlib.util.spec_from_file_location(
        "gen_rules_doc", REPO / "scripts" / "gen_rules_doc.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rules_doc_is_up_to_date() -> None:
    expected = _generator().render()
    actual = (REPO / "docs" / "rules.md").read_text(encoding="utf-8")
    assert actual == expected, "docs/rules.md is stale: run python scripts/gen_rules_doc.py"


def test_every_rule_is_in_the_doc() -> None:
    text = (REPO / "docs" / "rules.md").read_text(encoding="utf-8")
    missing = [code for code in all_rules() if f"### {code}\n" not in text]
    assert missing == []


@pytest.mark.parametrize("rule", validate_rules.RULES, ids=lambda r: r.code)
def test_validation_rules_have_examples_and_range(rule) -> None:
    assert rule.bad and rule.good and rule.bad != rule.good
    assert rule.code[:4] in ("FLJ3", "FLJ4", "FLJ5")
    assert rule.name == rule.name.lower() and " " not in rule.name


def test_every_code_the_validator_emits_is_registered() -> None:
    """Codes written in the validation and safety sources all exist in the registry."""
    import re

    sources = [
        *(REPO / "compiler" / "validate").glob("*.py"),
        *(REPO / "fljob" / "safety").glob("*.py"),
        *(REPO / "compiler" / "lint").glob("*.py"),
    ]
    used = {m for path in sources for m in re.findall(r'"(FLJ\d{3})"', path.read_text())}
    assert used and used <= set(all_rules()), sorted(used - set(all_rules()))
