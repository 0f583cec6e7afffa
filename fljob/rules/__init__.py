"""The catalogue of diagnostic codes: one stable code per rule, documented in one place.

Each area keeps its rules in its own module (``load``, ``resolve``, ``validate``,
``template``, ``runtime``); this package merges them. Code ranges:

- FLJ0xx  command line and files          (usage, missing files)
- FLJ1xx  loading and syntax              (load.py)
- FLJ2xx  variables and references        (resolve.py)
- FLJ3xx  schemas, meta and deploy map    (validate.py)
- FLJ4xx  component catalog               (validate.py)
- FLJ5xx  safe-component policy           (validate.py)
- FLJ6xx  templates and overrides         (template.py)
- FLJ7xx  bundles and runtime             (runtime.py)
"""

from __future__ import annotations

from dataclasses import dataclass

from fljob.errors import Severity


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    name: str  #: short kebab-case name, e.g. ``undefined-variable``
    severity: Severity
    summary: str  #: one sentence
    bad: str = ""  #: an example that triggers the rule
    good: str = ""  #: the same example, fixed


def _collect() -> dict[str, Rule]:
    from fljob.rules import deploy, load, resolve, runtime, template, validate

    rules: dict[str, Rule] = {}
    for module in (load, resolve, validate, template, runtime, deploy):
        for rule in module.RULES:
            if rule.code in rules:
                raise RuntimeError(f"duplicate rule code {rule.code}")
            rules[rule.code] = rule
    return dict(sorted(rules.items()))


_RULES: dict[str, Rule] | None = None


def all_rules() -> dict[str, Rule]:
    global _RULES
    if _RULES is None:
        _RULES = _collect()
    return _RULES


def get_rule(code: str) -> Rule | None:
    return all_rules().get(code)
