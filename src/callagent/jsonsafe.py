"""JSON values that can always be stored and sent back: checked on the way in, repaired
on the way out.

Python's ``json`` decodes ``"\\ud800"`` (and the bytes ED A0 80) into a lone UTF-16
surrogate, which no UTF-8 encoder accepts: such a value went into a JSON column (whose
text keeps it as the escape) and every later answer holding it failed with a 500. A
value nested deeper than pydantic's serialiser goes (about 250 levels) failed the same
way. So what a client sends is checked (:func:`json_problems`, the API answers 422) and
what is already stored is repaired when read (:func:`load_stored_json`, the engines' JSON
decoder): a bad row is shown with U+FFFD, never a 500 for everyone.
"""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate
from typing import Any

# Deeper than any JSON callagent takes (a wrap-up's fields, a campaign's message or
# window: 4 levels inside a body) and far below what the serialiser refuses.
MAX_JSON_DEPTH = 32
REPLACEMENT = "\ufffd"  # what a lone surrogate is shown as
TOO_DEEP = "\u2026"  # what stands for a stored value nested deeper than MAX_JSON_DEPTH
MAX_PROBLEMS = 20  # reported at once; a body with thousands of bad strings is one answer

# Problem codes (the API words them in ru, uk and en).
LONE_SURROGATE = "lone_surrogate"
NUL_CHARACTER = "nul_character"
TOO_DEEP_CODE = "too_deep"
NOT_FINITE = "not_finite"

Loc = tuple[str | int, ...]

# A stored JSON text can only hold a lone surrogate as an escape \uD800-\uDFFF (a
# database's text is valid UTF-8); valid pairs match too, then the walk finds nothing.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def text_problem(value: str) -> str | None:
    """What makes ``value`` unfit to store, or None.

    A lone surrogate is not Unicode text (no UTF-8 encoder takes it); a NUL is text, but
    PostgreSQL stores it in neither ``text`` nor ``jsonb``.
    """
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return LONE_SURROGATE
    if "\x00" in value:
        return NUL_CHARACTER
    return None


def json_problems(
    value: Any, loc: Loc = (), max_depth: int = MAX_JSON_DEPTH
) -> list[tuple[Loc, str]]:
    """Every (location, code) that makes a decoded JSON value unfit to store (at most
    :data:`MAX_PROBLEMS`): bad text in strings and keys, nesting deeper than
    ``max_depth`` containers, numbers that are not finite (``NaN``, ``Infinity``:
    Python reads them, PostgreSQL's ``json`` refuses them). Iterative: the depth of the
    input never becomes the depth of the stack."""
    problems: list[tuple[Loc, str]] = []
    stack: list[tuple[Any, Loc, int]] = [(value, loc, 0)]
    while stack and len(problems) < MAX_PROBLEMS:
        item, where, depth = stack.pop()
        if isinstance(item, str):
            code = text_problem(item)
            if code is not None:
                problems.append((where, code))
        elif isinstance(item, float):
            if not math.isfinite(item):
                problems.append((where, NOT_FINITE))
        elif isinstance(item, dict | list):
            if depth >= max_depth:
                problems.append((where, TOO_DEEP_CODE))
                continue
            if isinstance(item, dict):
                for key, child in reversed(item.items()):
                    code = text_problem(key) if isinstance(key, str) else None
                    if code is not None:
                        # the key itself is shown repaired: it cannot be sent back as is
                        problems.append(((*where, repair_text(key)), code))
                        continue
                    stack.append((child, (*where, key), depth + 1))
            else:
                for index in range(len(item) - 1, -1, -1):
                    stack.append((item[index], (*where, index), depth + 1))
    return problems


def repair_text(value: str) -> str:
    """``value`` with every lone surrogate replaced by U+FFFD (the same object when clean)."""
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # UTF-16 keeps valid pairs whole and turns each lone surrogate into U+FFFD.
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return value


def repaired(value: Any, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """A copy of a decoded JSON value that can always be sent: lone surrogates replaced
    by U+FFFD, containers deeper than ``max_depth`` replaced by :data:`TOO_DEEP`."""

    def walk(item: Any, depth: int) -> Any:
        if isinstance(item, str):
            return repair_text(item)
        if isinstance(item, dict):
            if depth >= max_depth:
                return TOO_DEEP
            return {
                (repair_text(k) if isinstance(k, str) else k): walk(v, depth + 1)
                for k, v in item.items()
            }
        if isinstance(item, list):
            if depth >= max_depth:
                return TOO_DEEP
            return [walk(v, depth + 1) for v in item]
        return item

    return walk(value, 0)


def load_stored_json(data: str | bytes) -> Any:
    """Decode a JSON column's text as the engines' ``json_deserializer``: what a client
    cannot send today but a row may hold from before (a lone surrogate, a value too deep
    to serialise) comes back repaired instead of failing every answer that holds it.

    The repair walk runs only when the text can need it (a surrogate escape, or brackets
    nested deeper than the limit), so an ordinary row costs one ``json.loads``.
    """
    raw = data.encode() if isinstance(data, str) else bytes(data)
    try:
        value = json.loads(raw)
    except RecursionError:  # nested beyond what the decoder follows: nothing to show
        return {} if raw.lstrip()[:1] == b"{" else []
    if _SURROGATE_ESCAPE.search(raw) or _nesting(raw) > MAX_JSON_DEPTH:
        return repaired(value)
    return value


_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_STEP = {ord("{"): 1, ord("["): 1, ord("}"): -1, ord("]"): -1}
_NOT_BRACKET = bytes(b for b in range(256) if b not in _STEP)


def _nesting(raw: bytes) -> int:
    """How deep the containers of a JSON text nest (strings, which may hold brackets,
    left out); counted only when there are more openers than the limit."""
    if raw.count(b"{") + raw.count(b"[") <= MAX_JSON_DEPTH:
        return 0
    brackets = _STRING.sub(b"", raw).translate(None, _NOT_BRACKET)
    return max(accumulate(_STEP[b] for b in brackets), default=0)
