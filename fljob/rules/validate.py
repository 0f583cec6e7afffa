"""Rules for schemas, deploy maps, components and safety (FLJ3xx-FLJ5xx).

Owned by the validation stage; see docs/rules.md for examples.
"""

from fljob.errors import Severity
from fljob.rules import Rule

E, W = Severity.ERROR, Severity.WARNING

RULES: list[Rule] = []
