"""Rules for bundles and the runtime (FLJ7xx)."""

from fljob.errors import Severity
from fljob.rules import Rule

E, W = Severity.ERROR, Severity.WARNING

RULES = [
    Rule("FLJ701", "bundle-exists", E, "The output path exists; pass --force to replace it."),
    Rule("FLJ702", "manifest-mismatch", E, "A bundle file does not match its MANIFEST entry."),
]
