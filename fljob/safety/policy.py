"""The safe-component policy: what a job may build, as data.

A policy file is JSON or YAML::

    name: my-site                       # shown in every message
    allow: ["fljob.runtime.*"]          # class-path globs; empty or absent = all not denied
    deny: ["os.*", "subprocess.*"]      # class-path globs, checked first
    argument_rules:                     # rules on the values of component arguments
      - components: ["*Launcher"]       # class-path globs the rule applies to
        args: ["script"]                # argument names
        forbid: [shell_metacharacters, absolute_path, path_escape]   # or regexes
    confine_custom_files: true          # custom/ symlinks must stay in the job folder
    checkers: ["my_pkg.checks:check"]   # plug-in checkers by dotted path
    entry_points: true                  # also run the 'fljob.safety_checkers' group

A site runs the same check with its own policy before it builds any component.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fljob.errors import UsageError

#: Built-in argument checks a rule can name in ``forbid``; any other string is a regex.
BUILTIN_FORBIDS = ("shell_metacharacters", "absolute_path", "path_escape")

_POLICY_KEYS = (
    "name",
    "allow",
    "deny",
    "argument_rules",
    "confine_custom_files",
    "checkers",
    "entry_points",
)
_RULE_KEYS = ("components", "args", "forbid", "message")


@dataclass(frozen=True, slots=True)
class ArgumentRule:
    """Forbid some values of some arguments of some components."""

    components: tuple[str, ...]  #: class-path globs
    args: tuple[str, ...]  #: argument names
    forbid: tuple[str, ...]  #: builtin check names or regexes
    message: str | None = None

    def applies_to(self, class_path: str) -> bool:
        return matches_any(class_path, self.components)


@dataclass(frozen=True, slots=True)
class SafetyPolicy:
    """A safe-component policy. ``source`` says where it came from, for messages."""

    name: str = "default"
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    argument_rules: tuple[ArgumentRule, ...] = ()
    confine_custom_files: bool = True
    checkers: tuple[str, ...] = ()
    entry_points: bool = True
    source: str = "built-in"
    _compiled: dict[str, re.Pattern[str]] = field(default_factory=dict, compare=False, repr=False)

    def describe(self) -> str:
        return f"policy '{self.name}' ({self.source})"

    def denies(self, class_path: str) -> bool:
        return bool(self.deny) and self._globs("\0deny", self.deny).match(class_path) is not None

    def allows(self, class_path: str) -> bool:
        """True when there is no allow list, or ``class_path`` matches one of its globs."""
        return not self.allow or self._globs("\0allow", self.allow).match(class_path) is not None

    def _globs(self, key: str, patterns: tuple[str, ...]) -> re.Pattern[str]:
        compiled = self._compiled.get(key)
        if compiled is None:  # one regex for the whole list: one match per component
            joined = "|".join(f"(?:{fnmatch.translate(p)})" for p in patterns)
            compiled = self._compiled[key] = re.compile(joined)
        return compiled

    def regex(self, pattern: str) -> re.Pattern[str]:
        compiled = self._compiled.get(pattern)
        if compiled is None:
            compiled = self._compiled[pattern] = re.compile(pattern)
        return compiled


def matches_any(class_path: str, patterns: Sequence[str]) -> bool:
    """True when ``class_path`` matches one of the glob ``patterns`` (``*`` spans dots)."""
    return any(fnmatch.fnmatchcase(class_path, p) for p in patterns)


#: Modules whose callables would run arbitrary commands or code if named as a component.
_DEFAULT_DENY = (
    "os.*",
    "posix.*",
    "nt.*",
    "subprocess.*",
    "builtins.*",
    "shutil.*",
    "importlib.*",
    "pickle.*",
    "marshal.*",
    "runpy.*",
    "code.*",
    "codeop.*",
    "pty.*",
    "sys.*",
    "ctypes.*",
    "socket.*",
    "multiprocessing.*",
    "webbrowser.*",
    "eval",
    "exec",
    "__import__",
)
#: Class paths whose ``script`` / ``command`` argument is a command line.
LAUNCHER_PATTERNS = ("*Launcher", "*ScriptRunner")


def default_policy() -> SafetyPolicy:
    """The built-in policy: no dangerous stdlib callables, launcher commands that run only
    the job's own files, and custom/ files confined to the job folder."""
    rule = ArgumentRule(
        components=LAUNCHER_PATTERNS, args=("script", "command"), forbid=BUILTIN_FORBIDS
    )
    return SafetyPolicy(name="default", deny=_DEFAULT_DENY, argument_rules=(rule,))


def load_policy(path: Path) -> SafetyPolicy:
    """Read a policy file (``.json``, ``.yml``, ``.yaml``); raise ``UsageError`` naming the
    file and the bad entry when it is unreadable or malformed."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read safety policy: {exc.strerror}", path=str(path)) from None
    try:
        if path.suffix == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as exc:  # parser errors of either format
        raise UsageError(
            f"safety policy is not valid {path.suffix[1:] or 'YAML'}: {exc}", path=str(path)
        ) from None
    return policy_from_dict(data, source=str(path))


def policy_from_dict(data: Any, *, source: str = "<dict>") -> SafetyPolicy:
    """Build a policy from plain data (a parsed policy file)."""
    if not isinstance(data, Mapping):
        raise UsageError("a safety policy must be an object", path=source)
    unknown = sorted(set(data) - set(_POLICY_KEYS))
    if unknown:
        raise UsageError(
            f"unknown key(s) in safety policy: {', '.join(unknown)}",
            path=source,
            hint=f"known keys: {', '.join(_POLICY_KEYS)}",
        )
    rules = tuple(
        _rule_from_dict(r, i, source) for i, r in enumerate(data.get("argument_rules") or ())
    )
    return SafetyPolicy(
        name=str(data.get("name") or Path(source).stem),
        allow=_strings(data, "allow", source),
        deny=_strings(data, "deny", source),
        argument_rules=rules,
        confine_custom_files=_bool(data, "confine_custom_files", True, source),
        checkers=_strings(data, "checkers", source),
        entry_points=_bool(data, "entry_points", True, source),
        source=source,
    )


def _rule_from_dict(data: Any, index: int, source: str) -> ArgumentRule:
    where = f"argument_rules[{index}]"
    if not isinstance(data, Mapping) or set(data) - set(_RULE_KEYS):
        raise UsageError(
            f"{where} must be an object with keys {', '.join(_RULE_KEYS)}", path=source
        )
    forbid = _strings(data, "forbid", source, where)
    for item in forbid:
        if item not in BUILTIN_FORBIDS:
            try:
                re.compile(item)
            except re.error as exc:
                raise UsageError(
                    f"{where}.forbid: bad regex {item!r}: {exc}",
                    path=source,
                    hint=f"or one of {', '.join(BUILTIN_FORBIDS)}",
                ) from None
    message = data.get("message")
    return ArgumentRule(
        components=_strings(data, "components", source, where) or ("*",),
        args=_strings(data, "args", source, where),
        forbid=forbid,
        message=str(message) if message is not None else None,
    )


def _strings(data: Mapping[str, Any], key: str, source: str, where: str = "") -> tuple[str, ...]:
    value = data.get(key) or ()
    if isinstance(value, str):
        value = (value,)
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        name = f"{where}.{key}" if where else key
        raise UsageError(f"safety policy: {name} must be a list of strings", path=source)
    return tuple(value)


def _bool(data: Mapping[str, Any], key: str, default: bool, source: str) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise UsageError(f"safety policy: {key} must be true or false", path=source)
    return value
