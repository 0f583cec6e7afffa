"""Typed outputs of the compiler's stages.

``load`` gives a :class:`JobSpec`, ``resolve`` a :class:`ResolvedJob`, ``validate`` a
:class:`ValidatedJob`; ``emit`` accepts only the last. All are frozen: a stage never
changes its input.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fljob.compiler.document import Document
from fljob.compiler.keypath import KeyPath
from fljob.errors import Diagnostic

SERVER_CONFIG = "config_fed_server"
CLIENT_CONFIG = "config_fed_client"
CONFIG_NAMES = (SERVER_CONFIG, CLIENT_CONFIG)
META = "meta"


@dataclass(frozen=True, slots=True)
class ConfigFile:
    """One loaded config file of an app."""

    app: str
    name: str  #: base name without extension, e.g. ``config_fed_client``
    document: Document
    shadowed: tuple[Path, ...] = ()  #: other formats of the same base name, ignored

    @property
    def key(self) -> str:
        """Bundle-relative name without extension: ``app/config/config_fed_client``."""
        return f"{self.app}/config/{self.name}"


@dataclass(frozen=True, slots=True)
class AppSpec:
    name: str
    root: Path
    configs: Mapping[str, ConfigFile]  #: by base name (``config_fed_server``...)
    custom_dir: Path | None  #: ``<app>/custom`` when it exists
    extra_config_files: tuple[Path, ...] = ()  #: other files in ``config/``, copied verbatim


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A job folder as written by the user."""

    root: Path
    name: str
    meta: Document
    meta_shadowed: tuple[Path, ...]
    apps: Mapping[str, AppSpec]
    warnings: tuple[Diagnostic, ...] = ()

    def config_files(self) -> list[ConfigFile]:
        return [cfg for app in self.apps.values() for cfg in app.configs.values()]


@dataclass(frozen=True, slots=True)
class ResolvedConfig:
    """A config (or the meta) with compile-time variables resolved."""

    key: str  #: ``meta`` or ``app/config/config_fed_client``
    document: Document  #: the source, for locating diagnostics
    data: dict[str, Any]
    #: key paths of strings that still hold deploy-time references, with the names used
    deploy_refs: Mapping[KeyPath, frozenset[str]] = field(default_factory=dict)
    variables: Mapping[str, Any] = field(default_factory=dict)  #: user variables, final values
    system_variables: frozenset[str] = frozenset()
    #: environment variable name -> default (``None`` when there is none)
    environment_variables: Mapping[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ResolvedJob:
    spec: JobSpec
    meta: ResolvedConfig
    configs: Mapping[str, ResolvedConfig]  #: by ``ResolvedConfig.key``
    warnings: tuple[Diagnostic, ...] = ()


@dataclass(frozen=True, slots=True)
class ValidatedJob:
    """A job that passed validation; the only input the emitter accepts."""

    resolved: ResolvedJob
    warnings: tuple[Diagnostic, ...] = ()
