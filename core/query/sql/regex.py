"""$regex: Parse's (PCRE-style) patterns as PostgreSQL advanced regular expressions (ARE).

The AST has checked the pattern with Python's `re`. The few constructs whose meaning differs
in an ARE are rewritten: `\\b`/`\\B` (word boundaries; in an ARE they mean backspace and
backslash) become `\\y`/`\\Y`, `\\xhh` (exactly two digits in PCRE, greedy in an ARE) becomes
`\\u00hh`, `(?P<name>...)` becomes a plain group, and leading inline flags such as `(?i)` join
$options. What an ARE cannot express (possessive quantifiers, atomic groups, flags scoped to a
group, named backreferences) is refused with 102 rather than sent to fail in PostgreSQL. Newline handling follows PCRE through an embedded option in front of the pattern:

| $options | PCRE meaning                                      | ARE option |
| -------- | ------------------------------------------------- | ---------- |
| (none)   | `.` skips newlines, `^`/`$` at the text's ends    | `(?p)`     |
| m        | `.` skips newlines, `^`/`$` at every line         | `(?n)`     |
| s        | `.` takes newlines, `^`/`$` at the text's ends    | (default)  |
| m and s  | `.` takes newlines, `^`/`$` at every line         | `(?w)`     |

`x` adds `(?x)` (expanded syntax); `i` uses the case-insensitive operator `~*`.
"""

from __future__ import annotations

import re

from parsnip.core.errors import ParseError
from parsnip.core.query.ast import Regex
from parsnip.core.query.sql.base import Params, Path

_LEADING_FLAGS = re.compile(r"^\(\?([aiLmsux]+)\)")
_HEX2 = re.compile(r"[0-9A-Fa-f]{2}")
_SCOPED_FLAGS = re.compile(r"\(\?(?:[aiLmsux]+(?:-[imsx]+)?|-[imsx]+):")


def to_are(pattern: str, options: str) -> tuple[str, bool]:
    """The ARE text (with its embedded options) and whether to match case-insensitively."""
    flags = set(options)
    lead = _LEADING_FLAGS.match(pattern)
    if lead:
        flags |= set(lead.group(1))
        pattern = pattern[lead.end():]
    body = _rewrite(pattern)
    newline = {(False, False): "p", (True, False): "n", (False, True): "", (True, True): "w"}
    embedded = newline["m" in flags, "s" in flags] + ("x" if "x" in flags else "")
    prefix = f"(?{embedded})" if embedded else ""
    return prefix + body, "i" in flags


def _unsupported(what: str) -> ParseError:
    return ParseError(ParseError.INVALID_QUERY, f"bad $regex: {what} are not supported")


def _rewrite(pattern: str) -> str:
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    after_quantifier = False  # a `+` right after a quantifier makes it possessive
    while i < n:
        c = pattern[i]
        if not in_class:
            if c == "+" and after_quantifier:
                raise _unsupported("possessive quantifiers")
            after_quantifier = c in "*+?}" and not (c == "?" and out and out[-1] == "(")
        if c == "\\" and i + 1 < n:
            after_quantifier = False
            nxt = pattern[i + 1]
            if nxt in "bB" and not in_class:
                out.append("\\y" if nxt == "b" else "\\Y")
            elif nxt == "x" and _HEX2.fullmatch(pattern, i + 2, i + 4):
                out.append("\\u00" + pattern[i + 2:i + 4])
                i += 2
            else:
                out.append(c + nxt)
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
            out.append(c)
            i += 1
            continue
        if c == "[":
            in_class = True
            out.append(c)
            i += 1
            # A `]` right after `[` or `[^` is a literal member, not the end of the class.
            if i < n and pattern[i] == "^":
                out.append("^")
                i += 1
            if i < n and pattern[i] == "]":
                out.append("]")
                i += 1
            continue
        if pattern.startswith("(?P<", i):
            out.append("(")
            i = pattern.index(">", i) + 1
            continue
        if pattern.startswith("(?P=", i):
            raise _unsupported("named backreferences")
        if pattern.startswith("(?>", i):
            raise _unsupported("atomic groups")
        if _SCOPED_FLAGS.match(pattern, i):
            raise _unsupported("flags scoped to a group")
        out.append(c)
        i += 1
    return "".join(out)


def regex(node: Regex, params: Params) -> str:
    """The key is a String (or the objectId, or an array with a String element) matching the pattern."""
    are, insensitive = to_are(node.pattern, node.options)
    op = "~*" if insensitive else "~"
    pattern = params.add(are, "::text")
    path = Path(node.field)
    if path.column == "object_id":
        return f"(object_id {op} {pattern})"
    if path.column is not None:
        return "FALSE"
    expr = path.json(params)
    # On an array field, as in MongoDB: some string element matches.
    return (
        f"(CASE jsonb_typeof({expr}) WHEN 'string' THEN ({expr} #>> '{{}}') {op} {pattern}"
        f" WHEN 'array' THEN EXISTS (SELECT 1 FROM jsonb_array_elements({expr}) AS e(v)"
        f" WHERE jsonb_typeof(e.v) = 'string' AND (e.v #>> '{{}}') {op} {pattern}) ELSE FALSE END)"
    )
