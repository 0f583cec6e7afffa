"""Provisioning: from a project file to one startup kit per participant.

>>> project = parse_project(yaml.safe_load(text), file="project.yml")   # doctest: +SKIP
>>> report = provision_project(project, Path("kits"))
>>> participant_argv(report.kit("site-1"), "ws/site-1")
['fljob', 'site', '--kit', 'kits/site-1', '-w', 'ws/site-1', '--server', ...]
"""

from fljob.runtime.provision.kits import (
    KIT_CONFIG,
    KitConfig,
    KitError,
    ProvisionConflictError,
    ProvisionReport,
    kit_address,
    participant_argv,
    provision_project,
    read_kit,
    read_roster,
)
from fljob.runtime.provision.project import (
    AdminSpec,
    Project,
    ProjectFileError,
    ServerSpec,
    SiteSpec,
    parse_project,
)

__all__ = [
    "KIT_CONFIG",
    "AdminSpec",
    "KitConfig",
    "KitError",
    "Project",
    "ProjectFileError",
    "ProvisionConflictError",
    "ProvisionReport",
    "ServerSpec",
    "SiteSpec",
    "kit_address",
    "parse_project",
    "participant_argv",
    "provision_project",
    "read_kit",
    "read_roster",
]
