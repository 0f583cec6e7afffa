"""Split a config string into literal text and variable references.

The text between one pair of braces is parsed with the grammar in ``references.lark``
(shared by JSON, HOCON and YAML configs). Around the references, a string follows
Python's ``str.format`` escapes: ``{{`` and ``}}`` are literal braces. A balanced brace
group that is not a valid reference (``{0}``, ``{"k": 1}``, ``{ n }``) stays literal
text, verbatim; a group that starts with ``@`` must be a valid definition call.

>>> [getattr(p, "text", p) for p in parse_template("custom/{app_script} --lr {lr}").parts]
['custom/', 'app_script', ' --lr ', 'lr']
>>> parse_template("{num_rounds}").single
VariableRef(name='num_rounds', accessors=())
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

#: Resolved on each site at deploy time; they win over user variables of the same name.
SYSTEM_VARIABLES = frozenset(
    {"SITE_NAME", "WORKSPACE", "JOB_ID", "ROOT_URL", "SECURE_MODE"}
    | {"JOB_CUSTOM_DIR", "JOB_CONFIG_DIR"}
)

GRAMMAR_PATH = Path(__file__).with_name("references.lark")


@dataclass(frozen=True, slots=True)
class VariableRef:
    """``{name}``, ``{name.key[0]}``: a user or system variable, maybe a part of it."""

    name: str
    accessors: tuple[str | int, ...] = ()

    @property
    def text(self) -> str:
        """The reference as written between braces, in canonical form."""
        tail = "".join(f"[{a}]" if isinstance(a, int) else f".{a}" for a in self.accessors)
        return self.name + tail


@dataclass(frozen=True, slots=True)
class EnvRef:
    """``{$NAME}`` or ``{$NAME:-default}``: an environment variable of the site."""

    name: str
    default: str | None = None

    @property
    def text(self) -> str:
        return f"${self.name}" if self.default is None else f"${self.name}:-{self.default}"


@dataclass(frozen=True, slots=True)
class Argument:
    """``key=value`` in a definition call; ``value`` is typed, or a reference."""

    name: str
    value: Any  #: a typed scalar, a str when quoted, or a Reference for ``key={ref}``


@dataclass(frozen=True, slots=True)
class CallRef:
    """``{@name:k1=v1:k2=v2}``: an instance of the parameterized definition ``@name``."""

    name: str
    arguments: tuple[Argument, ...] = ()

    @property
    def text(self) -> str:
        arguments = "".join(f":{a.name}={_argument_text(a.value)}" for a in self.arguments)
        return "@" + self.name + arguments


Reference = VariableRef | EnvRef | CallRef


@dataclass(frozen=True, slots=True)
class BadGroup:
    """A brace group that cannot be used: a broken call, or a near miss of a reference."""

    text: str  #: the whole group, braces included
    message: str
    suggestion: str | None = None  #: the group as it was probably meant


@dataclass(frozen=True, slots=True)
class Template:
    """A string as literal text (escapes undone) and references, in order."""

    parts: tuple[str | Reference, ...]
    bad_calls: tuple[BadGroup, ...] = ()  #: ``{@...}`` groups that do not parse (errors)
    near_misses: tuple[BadGroup, ...] = ()  #: groups that are almost references (warnings)

    @property
    def single(self) -> Reference | None:
        """The reference when it is the whole string (a typed reference), else None."""
        if len(self.parts) == 1 and not isinstance(self.parts[0], str):
            return self.parts[0]
        return None

    @property
    def references(self) -> list[Reference]:
        return [p for p in self.parts if not isinstance(p, str)]


class ReferenceSyntaxError(ValueError):
    """The text of a brace group does not follow the reference grammar."""

    def __init__(self, message: str, column: int):
        super().__init__(message)
        self.column = column  #: 1-based, counted from the group's opening brace


def needs_scan(text: str) -> bool:
    """False for the (common) strings that hold neither references nor escapes."""
    return "{" in text or "}}" in text


def escape_braces(text: str) -> str:
    """Literal text in template form: every brace doubled, so nothing is read as a reference."""
    return text.replace("{", "{{").replace("}", "}}")


_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)(?:\.[0-9]+(?:[eE][-+]?[0-9]+)?|[eE][-+]?[0-9]+)")


def type_scalar(text: str) -> Any:
    """Type one unquoted scalar: definition arguments and whole-string deploy-time values.

    ``true``/``false`` -> bool, ``null`` -> None, a decimal integer without leading zeros
    -> int, a decimal with a fraction or exponent -> float; anything else stays the
    string it is. So ``"010"``, ``"1_000"``, ``"0x1F"``, ``"1."``, ``"inf"``, ``"yes"``,
    ``"y"``, ``"True"`` and ``" 5"`` all stay strings: nothing is guessed.

    >>> [type_scalar(t) for t in ("8002", "0.01", "1e-3", "true", "null", "010", "yes")]
    [8002, 0.01, 0.001, True, None, '010', 'yes']
    """
    if text == "true":
        return True
    if text == "false":
        return False
    if text == "null":
        return None
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    return text


def scalar_text(value: Any) -> str:
    """How a scalar reads inside a longer string: as JSON writes it (``true``, ``null``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def _argument_text(value: Any) -> str:
    if isinstance(value, VariableRef | EnvRef | CallRef):
        return "{" + value.text + "}"
    if isinstance(value, str):
        if type_scalar(value) == value and not set(value) & set(':={}"'):
            return value
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else repr(value)


# --- parsing one brace group ---------------------------------------------------------

# Fast paths for the common shapes, so most configs never build the LALR parser (about
# 60 ms). Each matches exactly what the grammar accepts for that shape; a test checks.
_FAST_VARIABLE = re.compile(
    r"([A-Za-z_][A-Za-z0-9_]*)((?:\.[A-Za-z_][A-Za-z0-9_]*|\[(?:0|[1-9][0-9]*)\])*)"
)
_FAST_ACCESSOR = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[([0-9]+)\]")
_FAST_ENVIRONMENT = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)(?::-([^{}]*))?")


def _fast_reference(body: str) -> Reference | None:
    match = _FAST_VARIABLE.fullmatch(body)
    if match is not None:
        name, tail = match.groups()
        if not tail:
            return VariableRef(name)
        accessors = tuple(key if key else int(index) for key, index in _FAST_ACCESSOR.findall(tail))
        return VariableRef(name, accessors)
    match = _FAST_ENVIRONMENT.fullmatch(body)
    if match is not None:
        return EnvRef(match.group(1), match.group(2))
    return None


@cache
def _parser() -> Any:
    """The LALR parser, built on first use so that importing this module stays cheap."""
    from lark import Lark, Transformer, v_args

    @v_args(inline=True)
    class _Build(Transformer):  # type: ignore[type-arg]
        def start(self, ref: Reference) -> Reference:
            return ref

        def variable(self, name: Any, *accessors: str | int) -> VariableRef:
            return VariableRef(str(name), tuple(accessors))

        def field(self, name: Any) -> str:
            return str(name)

        def index(self, number: Any) -> int:
            return int(number)

        def environment(self, name: Any, default: str | None = None) -> EnvRef:
            return EnvRef(str(name), default)

        def default(self, text: Any = "") -> str:
            return str(text)

        def call(self, name: Any, *arguments: Argument) -> CallRef:
            return CallRef(str(name), tuple(arguments))

        def argument(self, name: Any, value: Any) -> Argument:
            return Argument(str(name), value)

        def quoted(self, token: Any) -> str:
            return re.sub(r"\\(.)", r"\1", str(token)[1:-1])

        def bare(self, token: Any) -> Any:
            return type_scalar(str(token))

        def nested(self, ref: Reference) -> Reference:
            return ref

    grammar = GRAMMAR_PATH.read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", lexer="contextual", transformer=_Build())


_TERMINAL_NAMES = {
    "NAME": "a name",
    "INDEX": "an index",
    "EQUAL": "'='",
    "COLON": "':'",
    "DOT": "'.'",
    "LSQB": "'['",
    "RSQB": "']'",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "QUOTED": "a quoted value",
    "BARE": "a value",
    "DEFAULT": "a default",
    "__ANON_0": "':-'",
    "$END": "the end",
}


@lru_cache(maxsize=4096)
def parse_reference(body: str) -> Reference:
    """Parse the text between the braces of one group; raise ReferenceSyntaxError.

    >>> parse_reference("@url:host=h:port={port}").arguments[1]
    Argument(name='port', value=VariableRef(name='port', accessors=()))
    """
    fast = _fast_reference(body)
    if fast is not None:
        return fast
    if not body.startswith("@"):
        # Variables and environment references are matched exactly by the fast path, so
        # this is literal text (``{0}``, ``{"k": 1}``); no need to build the parser.
        raise ReferenceSyntaxError(
            f"{{{body}}} is not a reference: expected NAME, NAME.key, NAME[0], $NAME or @NAME",
            2,
        )
    from lark.exceptions import UnexpectedInput

    try:
        # The parser's transformer turns the tree into a Reference (lark cannot say so).
        ref: Reference = _parser().parse(body)
        return ref
    except UnexpectedInput as exc:
        raise _syntax_error(body, exc) from None


def _syntax_error(body: str, exc: Any) -> ReferenceSyntaxError:
    """A friendly message for a lark parse error: what was expected, where, what was found."""
    expected = getattr(exc, "expected", None) or getattr(exc, "allowed", None) or ()
    wanted = " or ".join(sorted({_TERMINAL_NAMES.get(t, repr(t)) for t in expected}))
    token = getattr(exc, "token", None)
    column = getattr(exc, "column", 0)
    if (token is not None and token.type == "$END") or not isinstance(column, int) or column < 1:
        column, found = len(body) + 1, "the end"
    elif token is not None:
        found = repr(str(token))
    else:
        found = repr(body[column - 1 :])
    # Columns count from the group's opening brace, which the user sees.
    wanted = wanted or "something else"
    return ReferenceSyntaxError(
        f"expected {wanted} at column {column + 1} of {{{body}}}, found {found}", column + 1
    )


# --- scanning a whole string ---------------------------------------------------------

_BRACE = re.compile(r"[{}]")


def _group_end(text: str, start: int) -> int:
    """Index of the brace closing the group opened at ``start``, or -1.

    Braces nest (``{@d:p={port}}``) and quoted argument text is skipped."""
    close = text.find("}", start)
    if close < 0:
        return -1
    body = text[start + 1 : close]
    if "{" not in body and '"' not in body:
        return close
    depth, i, quoted = 0, start, False
    while i < len(text):
        char = text[i]
        if quoted:
            if char == "\\":
                i += 1
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _classify_group(body: str) -> Reference | BadGroup | None:
    """A reference, a bad group (broken call / near miss), or None for literal text."""
    try:
        return parse_reference(body)
    except ReferenceSyntaxError as exc:
        if body.startswith("@"):
            return BadGroup("{" + body + "}", f"bad definition call: {exc}")
        stripped = body.strip()
        if stripped != body and stripped:
            try:
                parse_reference(stripped)
            except ReferenceSyntaxError:
                return None
            return BadGroup(
                "{" + body + "}",
                f"'{{{body}}}' is literal text, not a reference (spaces inside the braces)",
                "{" + stripped + "}",
            )
        if "{" in body and parse_template(body).references:
            # '{"lr": {lr}}': the outer group is literal, so the reference inside is too
            return BadGroup(
                "{" + body + "}",
                f"'{{{body}}}' is literal text as a whole, so the reference inside it is "
                "not resolved",
                "{{" + body + "}}",
            )
        return None


@lru_cache(maxsize=8192)
def parse_template(text: str) -> Template:
    """Split ``text`` into literal parts (escapes undone) and references."""
    parts: list[str | Reference] = []
    bad_calls: list[BadGroup] = []
    near_misses: list[BadGroup] = []
    literal: list[str] = []
    pos = 0
    while True:
        match = _BRACE.search(text, pos)
        if match is None:
            literal.append(text[pos:])
            break
        at = match.start()
        literal.append(text[pos:at])
        pair = text[at : at + 2]
        if pair in ("{{", "}}"):
            literal.append(pair[0])
            pos = at + 2
            continue
        end = _group_end(text, at) if pair[0] == "{" else -1
        if end < 0:  # a lone brace is literal text
            if text.startswith("{@", at):
                bad_calls.append(BadGroup(text[at:], "bad definition call: no closing '}'"))
            literal.append(text[at])
            pos = at + 1
            continue
        found = _classify_group(text[at + 1 : end])
        if isinstance(found, VariableRef | EnvRef | CallRef):
            if any(literal):
                parts.append("".join(literal))
            literal = []
            parts.append(found)
        else:
            literal.append(text[at : end + 1])
            if isinstance(found, BadGroup):
                (bad_calls if found.suggestion is None else near_misses).append(found)
        pos = end + 1
    if any(literal):
        parts.append("".join(literal))
    if not parts:
        parts.append("")
    return Template(tuple(parts), tuple(bad_calls), tuple(near_misses))


def template_text(parts: tuple[str | Reference, ...] | list[str | Reference]) -> str:
    """Write parts back in template form: literal braces escaped, references canonical."""
    return "".join(escape_braces(p) if isinstance(p, str) else "{" + p.text + "}" for p in parts)
