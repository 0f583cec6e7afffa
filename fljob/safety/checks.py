"""The built-in safety checks, on plain config dicts and the job folder on disk."""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from fljob.safety.policy import ArgumentRule, SafetyPolicy
from fljob.safety.walk import ComponentRef, KeyPath, iter_components

SHELL_METACHARACTERS = frozenset(";|&$`<>")
#: Deploy-time environment references stay in configs until the site resolves them.
_ENV_REFERENCE = re.compile(r"\{\$[A-Za-z_][A-Za-z0-9_]*(?::-[^{}]*)?\}")
_INTERPRETER = re.compile(r"^(?:.*/)?python[0-9.]*$")


@dataclass(frozen=True, slots=True)
class SafetyFinding:
    """One unsafe feature. ``config`` is the config key (``app/config/config_fed_client``)
    with ``key_path`` inside it, or ``None`` with ``file`` set for findings on disk."""

    code: str
    message: str
    config: str | None = None
    key_path: KeyPath = ()
    file: str | None = None
    hint: str | None = None


def check_class_paths(
    config_key: str, config: Mapping[str, Any], policy: SafetyPolicy
) -> Iterator[SafetyFinding]:
    """FLJ501 denied and FLJ502 not-allowed class paths."""
    for ref in iter_components(config):
        if policy.denies(ref.class_path):
            yield SafetyFinding(
                "FLJ501",
                f"component class '{ref.class_path}' is denied by {policy.describe()}",
                config_key,
                ref.key_path,
                hint="use a component that is not denied, or a policy without this deny pattern",
            )
        elif not policy.allows(ref.class_path):
            yield SafetyFinding(
                "FLJ502",
                f"component class '{ref.class_path}' is not in the allow list of "
                f"{policy.describe()}",
                config_key,
                ref.key_path,
                hint="add a matching pattern to the policy's 'allow' list to trust it",
            )


def check_arguments(
    config_key: str, config: Mapping[str, Any], policy: SafetyPolicy
) -> Iterator[SafetyFinding]:
    """FLJ503-FLJ506: argument rules on the components that they apply to."""
    for ref in iter_components(config):
        if not isinstance(ref.args, Mapping):
            continue
        for rule in policy.argument_rules:
            if not rule.applies_to(ref.class_path):
                continue
            for arg in rule.args:
                value = ref.args.get(arg)
                if isinstance(value, str):
                    yield from _check_value(config_key, ref, arg, value, rule, policy)


def _check_value(
    config_key: str,
    ref: ComponentRef,
    arg: str,
    value: str,
    rule: ArgumentRule,
    policy: SafetyPolicy,
) -> Iterator[SafetyFinding]:
    key_path = (*ref.key_path, "args", arg)
    trust = (
        f"if you trust this command, use a policy whose argument rule for '{arg}' "
        f"does not forbid it (--policy FILE; on a site, the site's policy)"
    )
    for forbid in rule.forbid:
        if forbid == "shell_metacharacters":
            found = sorted(set(_ENV_REFERENCE.sub("", value)) & SHELL_METACHARACTERS)
            if found:
                yield SafetyFinding(
                    "FLJ503",
                    f"{arg} of '{ref.class_path}' holds shell metacharacters "
                    f"{' '.join(found)}: {value!r}",
                    config_key,
                    key_path,
                    hint="run one script with plain arguments; " + trust,
                )
        elif forbid in ("absolute_path", "path_escape"):
            yield from _check_paths(forbid, config_key, key_path, ref, arg, value, trust)
        elif policy.regex(forbid).search(value):
            yield SafetyFinding(
                "FLJ506",
                rule.message
                or f"{arg} of '{ref.class_path}' matches forbidden "
                f"pattern {forbid!r} of {policy.describe()}",
                config_key,
                key_path,
                hint=trust,
            )


def _check_paths(
    kind: str,
    config_key: str,
    key_path: KeyPath,
    ref: ComponentRef,
    arg: str,
    value: str,
    trust: str,
) -> Iterator[SafetyFinding]:
    tokens = _split(value)
    script = _script_token(tokens)
    if kind == "absolute_path":
        if script is not None and (script.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", script)):
            yield SafetyFinding(
                "FLJ504",
                f"{arg} of '{ref.class_path}' runs a file by absolute path: {script}",
                config_key,
                key_path,
                hint="put the script in the app's custom/ folder and run "
                "it by a relative path; " + trust,
            )
        return
    candidates = [t for t in tokens if t == script or t.startswith("custom/")]
    for token in candidates:
        if escapes(PurePosixPath(token)):
            yield SafetyFinding(
                "FLJ505",
                f"{arg} of '{ref.class_path}' names a path outside the app folder: {token}",
                config_key,
                key_path,
                hint="refer to files inside the app folder without '..'; " + trust,
            )


def _split(command: str) -> list[str]:
    try:
        return shlex.split(command)
    except ValueError:  # unbalanced quotes: fall back to whitespace
        return command.split()


def _script_token(tokens: list[str]) -> str | None:
    """The file a command runs: its first word, or after an interpreter and its options."""
    if not tokens:
        return None
    if not _INTERPRETER.match(tokens[0]):
        return tokens[0].rstrip(";|&<>")
    for token in tokens[1:]:
        if token.startswith(("-m", "-c")):
            return None  # a module or inline code, not a file
        if not token.startswith("-"):
            return token.rstrip(";|&<>")
    return None


def escapes(relative: PurePosixPath) -> bool:
    """Whether a relative path climbs above its starting folder with ``..``."""
    depth = 0
    for part in relative.parts:
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        elif part not in (".", ""):
            depth += 1
    return False


def check_custom_files(job_root: Path, apps: list[str]) -> Iterator[SafetyFinding]:
    """FLJ505 for symlinks in ``<app>/custom`` (or the folder itself) that lead outside
    the job folder."""
    root = Path(os.path.realpath(job_root))
    for app in apps:
        custom = job_root / app / "custom"
        if custom.is_symlink():
            yield from _link_finding(custom, root, job_root)
        if not custom.is_dir() or custom.is_symlink():
            continue
        for folder, dirs, files in os.walk(custom):
            for name in [*dirs, *files]:
                path = Path(folder, name)
                if path.is_symlink():
                    yield from _link_finding(path, root, job_root)


def _link_finding(path: Path, root: Path, job_root: Path) -> Iterator[SafetyFinding]:
    target = Path(os.path.realpath(path))
    if target != root and root not in target.parents:
        rel = path.relative_to(job_root).as_posix()
        yield SafetyFinding(
            "FLJ505",
            f"{rel} is a symlink to {target}, outside the job folder",
            file=str(path),
            hint="copy the file into the job folder instead of linking to it; "
            "symlinks out of the job are never trusted (set confine_custom_files: false in "
            "a policy only for trusted jobs)",
        )
