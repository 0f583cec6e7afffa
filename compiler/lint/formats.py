"""Lint output formats: text, json (docs/lint-json.md), SARIF 2.1.0, GitHub workflow
commands and JUnit XML. Each renders a whole :class:`LintReport` to one string."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fljob import __version__
from fljob.compiler.lint.report import LintReport
from fljob.errors import Diagnostic, Severity
from fljob.rules import all_rules

FORMATS = ("text", "json", "sarif", "github", "junit")
JSON_FORMAT = "fljob-lint/1"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def render(report: LintReport, fmt: str) -> str:
    renderers: dict[str, Callable[[LintReport], str]] = {
        "text": render_text,
        "json": render_json,
        "sarif": render_sarif,
        "github": render_github,
        "junit": render_junit,
    }
    return renderers[fmt](report)


def render_text(report: LintReport) -> str:
    lines = [d.format() for d in report.diagnostics]
    lines.append(report.summary())
    return "\n".join(lines) + "\n"


def render_json(report: LintReport) -> str:
    rules = all_rules()
    doc = {
        "format": JSON_FORMAT,
        "fljob_version": __version__,
        "summary": {
            "targets": len(report.results),
            "errors": report.count(Severity.ERROR),
            "warnings": report.count(Severity.WARNING),
            "infos": report.count(Severity.INFO),
            "exit_code": int(report.exit_code),
        },
        "targets": [
            {
                "path": r.target.path.as_posix(),
                "kind": r.target.kind,
                "errors": len(r.errors),
                "warnings": len(r.warnings),
            }
            for r in report.results
        ],
        "diagnostics": [
            {
                **d.to_dict(),
                "rule": rules[d.code].name if d.code in rules else None,
                "target": r.target.path.as_posix(),
            }
            for r in report.results
            for d in r.diagnostics
        ],
    }
    return json.dumps(doc, indent=2) + "\n"


def _uri(file: str) -> str:
    """A relative URI (forward slashes) under the working folder, else a file: URI."""
    path = Path(file)
    try:
        rel = Path(os.path.relpath(path.resolve(), Path.cwd()))
    except ValueError:
        rel = None
    if rel is not None and not rel.as_posix().startswith("../"):
        return rel.as_posix()
    return path.resolve().as_uri()


def render_sarif(report: LintReport) -> str:
    rules = list(all_rules().values())
    index = {rule.code: i for i, rule in enumerate(rules)}
    results = [_sarif_result(d, index) for d in report.diagnostics]
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "fljob",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "rules": [_sarif_rule(rule) for rule in rules],
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"uri": Path.cwd().resolve().as_uri() + "/"}},
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
    return json.dumps(doc, indent=2) + "\n"


def _sarif_rule(rule: Any) -> dict[str, Any]:
    help_text = rule.summary
    markdown = f"**{rule.code} {rule.name}**: {rule.summary}"
    if rule.bad:
        help_text += f"\nBad:\n{rule.bad}\nGood:\n{rule.good}"
        markdown += f"\n\nBad:\n```\n{rule.bad}\n```\nGood:\n```\n{rule.good}\n```"
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.summary},
        "help": {"text": help_text, "markdown": markdown},
        "defaultConfiguration": {"level": _SARIF_LEVEL[rule.severity]},
        "properties": {"tags": ["fljob", f"FLJ{rule.code[3]}xx"]},
    }


def _sarif_result(d: Diagnostic, index: dict[str, int]) -> dict[str, Any]:
    text = (
        d.message
        + (f" [{d.key_path}]" if d.key_path else "")
        + (f" Hint: {d.hint}" if d.hint else "")
    )
    result: dict[str, Any] = {
        "ruleId": d.code,
        "level": _SARIF_LEVEL[d.severity],
        "message": {"text": text},
    }
    if d.code in index:
        result["ruleIndex"] = index[d.code]
    if d.file:
        uri = _uri(d.file)
        location: dict[str, Any] = {"artifactLocation": {"uri": uri}}
        if not uri.startswith("file:"):
            location["artifactLocation"]["uriBaseId"] = "%SRCROOT%"
        if d.line:
            location["region"] = {"startLine": d.line, "startColumn": d.col or 1}
        result["locations"] = [{"physicalLocation": location}]
    return result


def _gh_escape(text: str, *, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


def render_github(report: LintReport) -> str:
    """GitHub Actions workflow commands: one annotation per diagnostic."""
    command = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}
    lines = []
    for d in report.diagnostics:
        props = []
        if d.file:
            props.append(f"file={_gh_escape(_relative(d.file), prop=True)}")
            if d.line:
                props.append(f"line={d.line}")
                props.append(f"col={d.col or 1}")
        props.append(f"title={_gh_escape(d.code, prop=True)}")
        text = d.message + (f" [{d.key_path}]" if d.key_path else "")
        text += f"\nhint: {d.hint}" if d.hint else ""
        lines.append(f"::{command[d.severity]} {','.join(props)}::{_gh_escape(text)}")
    lines.append(report.summary())
    return "\n".join(lines) + "\n"


def _relative(file: str) -> str:
    uri = _uri(file)
    return uri if not uri.startswith("file:") else file


def render_junit(report: LintReport) -> str:
    """JUnit XML: one test case per target, failed when it has errors."""
    import xml.etree.ElementTree as ET

    failures = sum(1 for r in report.results if r.errors)
    attrs = {
        "name": "fljob lint",
        "tests": str(len(report.results)),
        "failures": str(failures),
        "errors": "0",
        "time": f"{report.seconds:.3f}",
    }
    suites = ET.Element("testsuites", attrs)
    suite = ET.SubElement(suites, "testsuite", {**attrs, "skipped": "0"})
    for result in report.results:
        case = ET.SubElement(
            suite,
            "testcase",
            {
                "classname": f"fljob.lint.{result.target.kind}",
                "name": result.target.path.as_posix(),
            },
        )
        if result.errors:
            first = result.errors[0]
            failure = ET.SubElement(
                case,
                "failure",
                {
                    "type": first.code,
                    "message": f"{len(result.errors)} error(s); first: {first.code} "
                    f"{first.message}",
                },
            )
            failure.text = "\n".join(d.format() for d in result.errors)
        others = [d for d in result.diagnostics if not d.is_error]
        if others:
            ET.SubElement(case, "system-out").text = "\n".join(d.format() for d in others)
    ET.indent(suites)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
    )
