"""Launchers start a job's training script (``fljob.runtime.launchers.SubprocessLauncher``)."""

from fljob.runtime.launchers.subprocess_launcher import (
    LaunchedScript,
    LaunchError,
    SubprocessLauncher,
)

__all__ = ["LaunchError", "LaunchedScript", "SubprocessLauncher"]
