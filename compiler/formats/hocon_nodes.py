"""The HOCON parser's intermediate tree, and load-time substitution (``${path}``).

The parser builds :class:`Obj`, :class:`Lst` and :class:`Val` nodes; a value that
needs a substitution (or a ``+=``, or a merge with an unresolved earlier value) is a
:class:`Concat`, resolved after the whole file is read, as pyhocon does. Every node
keeps the offsets of its source text; a substituted value takes the offsets of the
substitution site, and its children are marked ``synthetic``.
"""

from __future__ import annotations

from typing import Any, overload

from fljob.compiler.formats._text import Parsed
from fljob.compiler.keypath import KeyPath, format_key_path


class Obj:
    __slots__ = ("end", "fields", "keys", "start", "synthetic")

    def __init__(self, start: int, end: int, synthetic: bool = False):
        self.fields: dict[str, Node] = {}
        self.keys: dict[str, tuple[int, int]] = {}
        self.start, self.end, self.synthetic = start, end, synthetic


class Lst:
    __slots__ = ("end", "items", "start", "synthetic")

    def __init__(self, items: list[Node], start: int, end: int):
        self.items, self.start, self.end, self.synthetic = items, start, end, False


class Val:
    __slots__ = ("end", "start", "synthetic", "value")

    def __init__(self, value: Any, start: int, end: int):
        self.value, self.start, self.end, self.synthetic = value, start, end, False


class Sub:
    """``${path}`` or ``${?path}`` inside a value."""

    __slots__ = ("end", "optional", "path", "start", "text", "ws")

    def __init__(self, path: KeyPath, optional: bool, ws: str, start: int, end: int, text: str):
        self.path, self.optional, self.ws = path, optional, ws
        self.start, self.end, self.text = start, end, text


#: A token of a value concatenation: (kind, payload, whitespace after it).
#: kinds: "u" unquoted string (payload keeps its trailing whitespace), "q" quoted string,
#: "n" number, "k" true/false/null, "o" Obj, "l" Lst, "s" Sub, "v" an earlier value (Node)
Token = tuple[str, Any, str]


class Concat:
    """A value that can only be computed once the whole file is known."""

    __slots__ = ("end", "merge_prev", "path", "prev", "start", "synthetic", "tokens")

    def __init__(self, tokens: list[Token], start: int, end: int, path: KeyPath | None):
        self.tokens, self.start, self.end, self.path = tokens, start, end, path
        self.prev: Node | None = None  #: the value this one replaces (self-references)
        self.merge_prev = False  #: merge into ``prev`` when both are objects
        self.synthetic = False


Node = Obj | Lst | Val | Concat


class HoconValueError(Exception):
    """Raised with an offset and a message; the parser turns it into a diagnostic."""

    def __init__(self, offset: int, message: str, hint: str | None = None, code: str = "FLJ101"):
        super().__init__(message)
        self.offset, self.message, self.hint, self.code = offset, message, hint, code


# --------------------------------------------------------------------------- combine


def combine(tokens: list[tuple[str, Any, str]], start: int, end: int) -> Node | None:
    """Join concatenated tokens whose substitutions are already replaced by nodes.

    Same rules as pyhocon's ``ConfigValues.transform``: all objects (merged), all lists
    (concatenated) or all strings (joined, keeping the whitespace between tokens).
    """
    if not tokens:
        return None
    if len(tokens) == 1:
        return _single(tokens[0], start, end)
    kinds = {_family(kind, payload) for kind, payload, _ in tokens}
    if len(kinds) > 1:
        raise HoconValueError(
            start,
            "cannot concatenate " + " and ".join(sorted(kinds)),
            "quote the whole value, or keep objects, lists and text apart",
        )
    family = kinds.pop()
    if family == "objects":
        result = Obj(start, end)
        for _, node, _ in tokens:
            merge_into(result, node)
        return result
    if family == "lists":
        items = [item for _, node, _ in tokens for item in node.items]
        return Lst(items, start, end)
    return Val(_join_text(tokens, start), start, end)


def _family(kind: str, payload: Any) -> str:
    if kind == "o" or isinstance(payload, Obj):
        return "objects"
    if kind == "l" or isinstance(payload, Lst):
        return "lists"
    return "text"


def _single(token: tuple[str, Any, str], start: int, end: int) -> Node:
    kind, payload, _ = token
    if kind == "u":
        return Val(payload.rstrip(" \t"), start, end)
    if kind in ("q", "n", "k"):
        return Val(payload, start, end)
    node: Node = payload  # "o", "l" or "v": the payload is a node
    return node


def _join_text(tokens: list[tuple[str, Any, str]], start: int) -> str:
    parts: list[str] = []
    last = len(tokens) - 1
    for i, (kind, payload, ws) in enumerate(tokens):
        if isinstance(payload, Val):
            payload = payload.value
            kind = "q" if isinstance(payload, str) else "n"
        if kind == "k" or isinstance(payload, bool) or payload is None:
            raise HoconValueError(
                start,
                "true, false or null inside a longer text value",
                "quote the whole value to make it a string",
                code="FLJ107",
            )
        text = payload if isinstance(payload, str) else str(payload)
        if kind == "u" and i == last:
            text = text.rstrip(" \t")
        elif kind != "u" and i != last:
            text += ws
        parts.append(text)
    return "".join(parts)


def merge_into(dst: Obj, src: Obj) -> None:
    """Merge ``src`` into ``dst`` (objects merge key by key; anything else replaces)."""
    for key, node in src.fields.items():
        old = dst.fields.get(key)
        if isinstance(old, Obj) and isinstance(node, Obj):
            merged = copy_node(old)
            merge_into(merged, node)
            merged.synthetic = True
            dst.fields[key] = merged
        else:
            dst.fields[key] = node
            dst.keys[key] = src.keys.get(key, (node.start, node.start))


@overload
def copy_node(node: Obj, site: tuple[int, int] | None = None) -> Obj: ...
@overload
def copy_node(node: Node, site: tuple[int, int] | None = None) -> Node: ...
def copy_node(node: Node, site: tuple[int, int] | None = None) -> Node:
    """A deep copy; with ``site`` every offset moves there and children become synthetic."""
    start, end = site if site else (node.start, node.end)
    if isinstance(node, Obj):
        out = Obj(start, end, node.synthetic)
        for key, child in node.fields.items():
            out.fields[key] = copy_node(child, site)
            out.keys[key] = site if site else node.keys.get(key, (child.start, child.start))
            if site:
                out.fields[key].synthetic = True
        return out
    if isinstance(node, Lst):
        items = [copy_node(item, site) for item in node.items]
        if site:
            for item in items:
                item.synthetic = True
        return Lst(items, start, end)
    if isinstance(node, Val):
        out_val = Val(node.value, start, end)
        out_val.synthetic = node.synthetic
        return out_val
    return node  # an unresolved Concat is never copied (resolve first)


# --------------------------------------------------------------------------- resolve


class Resolver:
    """Resolves every Concat in the tree rooted at ``root`` (substitutions are absolute)."""

    def __init__(self, root: Obj):
        self.root = root
        self.active: list[tuple[Concat, str]] = []  # the chain being resolved, for cycles

    def run(self) -> None:
        self.resolve_children(self.root)

    def resolve_children(self, node: Node) -> None:
        if isinstance(node, Obj):
            for key in list(node.fields):
                child = node.fields[key]
                if isinstance(child, Concat):
                    resolved = self.resolve(child)
                    if resolved is None:
                        del node.fields[key]
                        continue
                    node.fields[key] = child = resolved
                self.resolve_children(child)
        elif isinstance(node, Lst):
            items: list[Node] = []
            for child in node.items:
                resolved = self.resolve(child) if isinstance(child, Concat) else child
                if resolved is None:
                    raise HoconValueError(
                        child.start,
                        "an undefined optional substitution as a list item",
                        "pyhocon (FLARE) puts null there while HOCON drops the item; "
                        "write the list without it",
                        code="FLJ107",
                    )
                self.resolve_children(resolved)
                items.append(resolved)
            node.items = items

    def resolve(self, concat: Concat) -> Node | None:
        for i, (active, _) in enumerate(self.active):
            if active is concat:
                chain = [label for _, label in self.active[i:]] + [self.active[i][1]]
                raise HoconValueError(
                    self.active[0][0].start,
                    "substitution cycle: " + " -> ".join(chain),
                    "a value cannot depend on itself",
                )
        if concat.path:
            label = format_key_path(concat.path)
        else:  # inside a list: name it by its substitutions
            label = " ".join(p.text for kind, p, _ in concat.tokens if kind == "s") or "(value)"
        self.active.append((concat, label))
        try:
            return self._compute(concat)
        finally:
            self.active.pop()

    def _compute(self, concat: Concat) -> Node | None:
        parts: list[tuple[str, Any, str]] = []
        for kind, payload, ws in concat.tokens:
            if kind == "s":
                parts.append(("v", self.substitute(concat, payload), ws))
            elif kind == "v":
                parts.append(("v", self.complete(payload), ws))
            else:
                parts.append((kind, payload, ws))
        result = combine(_as_tokens(parts), concat.start, concat.end)
        if result is None:
            # Only undefined ${?x}: the field keeps its earlier value, if any.
            return self.complete(concat.prev)
        if concat.merge_prev and isinstance(result, Obj):
            prev = self.complete(concat.prev)
            if isinstance(prev, Obj):
                merged = copy_node(prev)
                merge_into(merged, result)
                merged.start, merged.end, merged.synthetic = result.start, result.end, True
                result = merged
        return result

    def complete(self, node: Node | None) -> Node | None:
        """``node`` with every substitution inside it resolved."""
        if isinstance(node, Concat):
            node = self.resolve(node)
        if node is not None:
            self.resolve_children(node)
        return node

    def substitute(self, concat: Concat, sub: Sub) -> Node | None:
        path, own = sub.path, concat.path
        if own is not None and path[: len(own)] == own:
            # A self-reference sees the value this assignment replaces.
            target = self.lookup(concat.prev, path[len(own) :])
        else:
            target = self.lookup(self.root, path)
        target = self.complete(target)
        if target is None:
            if sub.optional:
                return None
            raise HoconValueError(
                sub.start,
                f"substitution {sub.text} is not defined in this file",
                "HOCON substitutions refer to keys of the same file; fljob does not read "
                "environment variables at load time (for a deploy-time environment "
                f'variable write "{{${format_key_path(path)}}}")',
            )
        if isinstance(target, Val) and target.value is None:
            raise HoconValueError(
                sub.start,
                f"substitution {sub.text} refers to null",
                "pyhocon (FLARE) drops the key instead of setting null; write null directly",
                code="FLJ107",
            )
        return copy_node(target, (sub.start, sub.end))

    def lookup(self, node: Node | None, path: KeyPath) -> Node | None:
        """Follow ``path`` from ``node``, resolving only the values on the way."""
        if isinstance(node, Concat):
            node = self.resolve(node)
        for key in path:
            # Substitution paths hold only names (no list indexes): see _subst_path.
            if not isinstance(node, Obj) or not isinstance(key, str):
                return None
            child = node.fields.get(key)
            if isinstance(child, Concat):
                child = self.resolve(child)
                if child is None:
                    del node.fields[key]
                else:
                    node.fields[key] = child
            if child is None:
                return None
            node = child
        return node


def _as_tokens(parts: list[tuple[str, Any, str]]) -> list[tuple[str, Any, str]]:
    out = []
    for kind, payload, ws in parts:
        if kind == "v":
            if payload is None:
                continue
            if isinstance(payload, Obj):
                kind = "o"
            elif isinstance(payload, Lst):
                kind = "l"
            elif isinstance(payload.value, str):
                kind, payload = "q", payload.value
            elif isinstance(payload.value, bool) or payload.value is None:
                kind, payload = "k", payload.value
            else:
                kind, payload = "n", payload.value
        out.append((kind, payload, ws))
    return out


def relocate(node: Obj, site: tuple[int, int]) -> Obj:
    """Move every offset of an included tree to the include directive (another file's
    offsets mean nothing in this one)."""
    out = copy_node(node, site) if not _has_concat(node) else _relocate_concat(node, site)
    return out


def _has_concat(node: Node) -> bool:
    if isinstance(node, Concat):
        return True
    if isinstance(node, Obj):
        return any(_has_concat(c) for c in node.fields.values())
    if isinstance(node, Lst):
        return any(_has_concat(c) for c in node.items)
    return False


@overload
def _relocate_concat(node: Obj, site: tuple[int, int]) -> Obj: ...
@overload
def _relocate_concat(node: Node, site: tuple[int, int]) -> Node: ...
def _relocate_concat(node: Node, site: tuple[int, int]) -> Node:
    """Like copy_node with a site, but keeps unresolved values (resolved later, here)."""
    if isinstance(node, Obj):
        out = Obj(*site, synthetic=True)
        for key, child in node.fields.items():
            out.fields[key] = _relocate_concat(child, site)
            out.keys[key] = site
        return out
    if isinstance(node, Lst):
        relocated = Lst([_relocate_concat(i, site) for i in node.items], *site)
        relocated.synthetic = True
        return relocated
    if isinstance(node, Concat):
        node.start, node.end, node.synthetic = site[0], site[1], True
        node.tokens = [
            (kind, _relocate_concat(p, site) if kind in "ol" else p, ws)
            for kind, p, ws in node.tokens
        ]
        for kind, payload, _ in node.tokens:
            if kind == "s":
                payload.start, payload.end = site
        return node
    relocated_val = copy_node(node, site)
    relocated_val.synthetic = True
    return relocated_val


# --------------------------------------------------------------------------- emit


def emit(node: Node, out: Parsed, path: KeyPath = ()) -> Any:
    """Plain data for ``node``, recording offsets under ``path``."""
    out.spans[path] = (node.start, node.end)
    if node.synthetic:
        out.synthetic.add(path)
    if isinstance(node, Obj):
        data = {}
        for key, child in node.fields.items():
            child_path = (*path, key)
            out.key_spans[child_path] = node.keys.get(key, (child.start, child.start))
            data[key] = emit(child, out, child_path)
        return data
    if isinstance(node, Lst):
        return [emit(item, out, (*path, i)) for i, item in enumerate(node.items)]
    if isinstance(node, Val):
        return node.value
    raise AssertionError("unresolved value")  # pragma: no cover - resolve runs first
