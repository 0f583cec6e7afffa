"""The safe-component policy at compile time: ``fljob.safety`` on the resolved configs,
its findings located in the source files."""

from __future__ import annotations

from collections.abc import Mapping

from fljob.compiler.model import ResolvedConfig, ResolvedJob
from fljob.errors import Diagnostic
from fljob.safety import SafetyFinding, SafetyPolicy, check_configs, finding_to_diagnostic


def check_safety(job: ResolvedJob, policy: SafetyPolicy) -> list[Diagnostic]:
    configs = {key: cfg.data for key, cfg in job.configs.items()}
    findings = check_configs(configs, job_root=job.spec.root, policy=policy)
    return [_locate(f, job.configs) for f in findings]


def _locate(finding: SafetyFinding, configs: Mapping[str, ResolvedConfig]) -> Diagnostic:
    config = configs.get(finding.config) if finding.config else None
    if config is None:
        return finding_to_diagnostic(finding)
    return config.document.diagnostic(
        finding.code, finding.message, finding.key_path, hint=finding.hint
    )
