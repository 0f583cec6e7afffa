"""The safe-component policy, shared by the compiler (``fljob lint`` / ``compile``) and
every site (before it builds a job's components).

It works on plain config dicts, as found in a bundle, and imports nothing from the
compiler or the CLI::

    from fljob.safety import default_policy, enforce
    enforce({"app/config/config_fed_client": client_dict}, job_root=bundle_dir,
            policy=default_policy())       # raises UnsafeJobError listing every finding

``check_configs`` returns the findings instead of raising.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fljob.errors import Diagnostic, UnsafeJobError
from fljob.safety.checks import (
    SafetyFinding,
    check_arguments,
    check_class_paths,
    check_custom_files,
)
from fljob.safety.plugins import ENTRY_POINT_GROUP, load_checker, run_checkers
from fljob.safety.policy import (
    ArgumentRule,
    SafetyPolicy,
    default_policy,
    load_policy,
    policy_from_dict,
)
from fljob.safety.walk import format_key_path, iter_components

__all__ = [
    "ENTRY_POINT_GROUP",
    "ArgumentRule",
    "SafetyFinding",
    "SafetyPolicy",
    "check_configs",
    "default_policy",
    "enforce",
    "finding_to_diagnostic",
    "iter_components",
    "load_checker",
    "load_policy",
    "policy_from_dict",
    "unsafe_job_error",
]


def check_configs(
    configs: Mapping[str, Mapping[str, Any]],
    *,
    job_root: Path | None = None,
    policy: SafetyPolicy | None = None,
) -> list[SafetyFinding]:
    """Every unsafe feature of a job's configs under ``policy`` (the built-in default when
    ``None``). ``configs`` maps config keys (``app/config/config_fed_client``) to dicts;
    ``job_root`` (the job or bundle folder) enables the custom/ file checks."""
    policy = policy or default_policy()
    findings: list[SafetyFinding] = []
    for key, config in configs.items():
        findings.extend(check_class_paths(key, config, policy))
        findings.extend(check_arguments(key, config, policy))
    if job_root is not None and policy.confine_custom_files:
        apps = sorted({key.split("/", 1)[0] for key in configs if "/" in key})
        findings.extend(check_custom_files(job_root, apps))
    findings.extend(run_checkers(configs, job_root=job_root or Path("."), policy=policy))
    return findings


def finding_to_diagnostic(
    finding: SafetyFinding,
    *,
    file: str | None = None,
    line: int | None = None,
    col: int | None = None,
) -> Diagnostic:
    """A diagnostic for one finding; callers with source positions pass them in."""
    key_path = format_key_path(finding.key_path) if finding.key_path else None
    default_file = finding.file or (f"{finding.config}.json" if finding.config else None)
    return Diagnostic(
        finding.code,
        finding.message,
        file=file or default_file,
        line=line,
        col=col,
        key_path=key_path,
        hint=finding.hint,
    )


def unsafe_job_error(diagnostics: Sequence[Diagnostic], policy: SafetyPolicy) -> UnsafeJobError:
    """One error listing every unsafe feature, and how trust is granted."""
    lines = [f"the job uses {len(diagnostics)} feature(s) that {policy.describe()} does not trust:"]
    lines += [f"  - {d.code} {d.location()}: {d.message}" for d in diagnostics]
    lines.append(
        "Trust is granted by a safety policy that allows them: pass --policy FILE to "
        "fljob lint/compile (a site applies its own policy file); see docs/rules.md FLJ5xx."
    )
    return UnsafeJobError(diagnostics, message="\n".join(lines))


def enforce(
    configs: Mapping[str, Mapping[str, Any]],
    *,
    job_root: Path | None = None,
    policy: SafetyPolicy | None = None,
) -> None:
    """Raise ``UnsafeJobError`` listing every finding of :func:`check_configs`."""
    policy = policy or default_policy()
    findings = check_configs(configs, job_root=job_root, policy=policy)
    if findings:
        raise unsafe_job_error([finding_to_diagnostic(f) for f in findings], policy)
