"""Rules for templates, template libraries and KEY=VALUE overrides (FLJ6xx)."""

from fljob.errors import Severity
from fljob.rules import Rule

E, W = Severity.ERROR, Severity.WARNING

RULES: list[Rule] = []
