"""$regex for the in-memory matcher, in time linear in the text or bounded by a clock.

LiveQuery matches every changed object against its subscriptions on the loop that also serves
REST, so one pattern must never hold it: Python's `re` backtracks, and `^(a+)+$` on 28 letters
took 10 s. Each pattern (already checked by `re` in the AST) is read once by Python's own
parser, exactly as `re` reads it, and its tree is written out again:

- for RE2 (google-re2), an automaton whose time is linear in the text whatever the pattern;
- when the pattern needs what no automaton does (backreferences, lookaround, possessive and
  atomic groups, conditionals, Unicode word boundaries, counts over 1,000, ASCII-only case
  folding), for the `regex` module, with a time limit per match (`TIME_LIMIT`) and one per
  dispatcher turn (`time_budget`). A match that runs out raises `RegexTimeout`.

Both renderings mean what the pattern means to `re` (Unicode classes, case folding, verbose
mode, inline flags), with one deliberate exception: `$` without the `m` option matches only at
the very end of the text, as in PostgreSQL (the SQL evaluator) and JavaScript, where `re` also
matches before a final newline. Figures and the choice: ARCHITECTURE.md.
"""

from __future__ import annotations

import re
import time
import warnings
import weakref
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import Iterator

import regex as _backtracking
from re import _constants as _c, _parser
from re2 import _re2

from parsnip.core.errors import ParseError

__all__ = ["RegexTimeout", "TIME_LIMIT", "Compiled", "compile_regex", "time_budget"]

TIME_LIMIT = 0.05  # seconds one backtracking match may take (an ordinary one takes microseconds)
_MAX_MEM = 1 << 20  # RE2's memory per pattern: program and lazily built DFA (then it runs an NFA)
_MAX_COUNT = 1000  # RE2's largest counted repeat
_OPTION_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}

_deadline: ContextVar[float | None] = ContextVar("parsnip_regex_deadline", default=None)


class RegexTimeout(Exception):
    """A backtracking match ran out of time: the subscription that asked for it ends."""


@contextmanager
def time_budget(seconds: float) -> Iterator[None]:
    """Bound the time of every backtracking match run inside (in this task) to `seconds` in all."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


class Compiled:
    """One compiled $regex: `search(text)` says whether it matches anywhere in `text`."""

    __slots__ = ("pattern", "linear", "_exact", "_needle", "_folded", "_rx", "_tree", "_flags", "_fallback",
                 "__weakref__")

    def __init__(self, pattern: str, tree, flags: int, rx) -> None:
        self.pattern = pattern
        self.linear = rx is not None
        self._exact, self._needle = _literal_shortcuts(tree, flags)
        self._folded = bool(flags & _IGNORECASE)
        self._rx = rx
        self._tree, self._flags = tree, flags
        self._fallback = None if rx is not None else _bounded(tree, flags)

    def search(self, text: str) -> bool:
        exact = self._exact
        if exact is not None:  # the SDKs' contains/startsWith/endsWith: a quoted literal
            return exact(text)
        needle = self._needle
        if needle and needle not in (text.casefold() if self._folded else text):
            return False  # text every match holds: most texts are out at once
        rx = self._rx
        if rx is not None:
            try:
                data = text.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate: RE2 reads UTF-8 only
                return self._backtrack(text)
            return rx.Match(_UNANCHORED, data, 0, len(data))[0][0] >= 0
        return self._backtrack(text)

    def _backtrack(self, text: str) -> bool:
        if self._fallback is None:
            self._fallback = _bounded(self._tree, self._flags)
        deadline = _deadline.get()
        limit = TIME_LIMIT if deadline is None else min(TIME_LIMIT, deadline - time.monotonic())
        try:
            return self._fallback.search(text, timeout=max(limit, 1e-6)) is not None
        except TimeoutError:
            shown = self.pattern if len(self.pattern) <= 60 else self.pattern[:57] + "..."
            raise RegexTimeout(f"$regex {shown!r} took more than {TIME_LIMIT * 1000:.0f} ms to match"
                               " an object; the subscription was ended") from None


_UNANCHORED = _re2.RE2.Anchor.UNANCHORED


def _literal_shortcuts(tree, flags: int):
    """(exact, needle): `exact(text)` answers for a pattern that is a literal, maybe anchored
    at the start or end of the text; else `needle` is the longest run of literal characters
    every match holds (checked with `in` before the engine runs), or "" when there is none.
    Under IGNORECASE the needle is casefolded and checked in the casefolded text, and only made
    of ASCII characters whose every case partner is their casefold (not i, k, s: re also
    matches them with dotless i, the Kelvin sign, long s)."""
    if flags & _IGNORECASE:
        return None, _needle(tree, lambda c: c < 0x80 and chr(c) not in "iIkKsS").casefold()
    items = list(tree)
    start = bool(items) and items[0] == (_c.AT, _c.AT_BEGINNING_STRING) or (
        bool(items) and items[0] == (_c.AT, _c.AT_BEGINNING) and not flags & _MULTILINE)
    if start:
        items = items[1:]
    end = bool(items) and items[-1] == (_c.AT, _c.AT_END_STRING) or (
        bool(items) and items[-1] == (_c.AT, _c.AT_END) and not flags & _MULTILINE)
    if end:
        items = items[:-1]
    if items and all(op is _c.LITERAL for op, _ in items):
        text = "".join(chr(av) for _, av in items)
        if start and end:
            return (lambda t: t == text), ""
        if start:
            return (lambda t: t.startswith(text)), ""
        if end:
            return (lambda t: t.endswith(text)), ""
        return (lambda t: text in t), ""
    return None, _needle(tree, lambda c: True)


def _needle(tree, usable) -> str:
    """The longest run of top-level literal characters (each `usable`) in the pattern."""
    best, run = "", []
    for op, av in tree:
        if op is _c.LITERAL and usable(av):
            run.append(chr(av))
            continue
        if len(run) > len(best):
            best = "".join(run)
        run = []
    return "".join(run) if len(run) > len(best) else best
_live: weakref.WeakValueDictionary[tuple[str, str], Compiled] = weakref.WeakValueDictionary()


def compile_regex(pattern: str, options: str) -> Compiled:
    """The compiled form of `pattern` with Parse's `$options` (i, m, s, x); ParseError 102 when
    it is not a valid pattern. A pattern stays compiled while someone holds what this returns
    (LiveQuery's queries do), and a few hundred more in an LRU cache."""
    key = (pattern, options)
    found = _live.get(key)
    if found is None:
        found = _live[key] = _compile(pattern, options)
    return found


@lru_cache(maxsize=256)
def _compile(pattern: str, options: str) -> Compiled:
    flags = 0
    for option in options:
        flags |= _OPTION_FLAGS[option]
    try:
        with warnings.catch_warnings():  # re's FutureWarnings (a "[[" in a set) are no news to a server
            warnings.simplefilter("ignore")
            tree = _parser.parse(pattern, flags)
    except (re.error, RecursionError, OverflowError) as e:
        raise ParseError(ParseError.INVALID_QUERY, f"Invalid regular expression: {e}") from None
    flags = tree.state.flags
    rx = None
    try:
        text = _Re2Writer(flags).pattern(tree)
    except _Unsupported:
        text = None
    except RecursionError:
        raise ParseError(ParseError.INVALID_QUERY, "Invalid regular expression: nested too deeply") from None
    if text is not None:
        rx = _re2.RE2(text.encode("utf-8"), _RE2_OPTIONS)
        if not rx.ok():  # too large for its memory bound, or counts nested past RE2's limits
            rx = None
    return Compiled(pattern, tree, flags, rx)  # without RE2, the `regex` pattern is built now


def _re2_options():
    options = _re2.RE2.Options()
    options.never_capture = True  # only "does it match" is asked: the DFA alone answers
    options.log_errors = False
    options.max_mem = _MAX_MEM
    return options


_RE2_OPTIONS = _re2_options()


def _bounded(tree, flags: int):
    """The pattern for the `regex` module (re's syntax and meaning), `$` anchored as above."""
    text = _PythonWriter(flags).pattern(tree)
    keep = _backtracking.V0
    for ours, theirs in ((_IGNORECASE, _backtracking.IGNORECASE), (_MULTILINE, _backtracking.MULTILINE),
                         (_DOTALL, _backtracking.DOTALL), (_ASCII, _backtracking.ASCII)):
        if flags & ours:
            keep |= theirs  # the same names, not the same bits
    try:
        return _backtracking.compile(text, keep)
    except (_backtracking.error, RecursionError, OverflowError) as e:
        raise ParseError(ParseError.INVALID_QUERY, f"Invalid regular expression: {e}") from None


# -- writing the tree out again ---------------------------------------------------------------

class _Unsupported(Exception):
    """RE2 cannot express this: the pattern goes to the bounded backtracking engine."""


_IGNORECASE, _MULTILINE, _DOTALL, _ASCII, _LOCALE = (
    re.IGNORECASE.value, re.MULTILINE.value, re.DOTALL.value, re.ASCII.value, re.LOCALE.value)
_MAXREPEAT = _c.MAXREPEAT


class _Writer:
    def __init__(self, flags: int) -> None:
        self.flags = flags

    def pattern(self, tree) -> str:
        return self.prefix(self.flags) + self.seq(tree, self.flags)

    def prefix(self, flags: int) -> str:
        return ""

    def seq(self, items, flags: int) -> str:
        return "".join(self.item(op, av, flags) for op, av in items)

    def item(self, op, av, flags: int) -> str:
        if op is _c.LITERAL:
            return self.literal(av, flags)
        if op is _c.NOT_LITERAL:
            return self.charset([(_c.NEGATE, None), (_c.LITERAL, av)], flags)
        if op is _c.ANY:
            return "."
        if op is _c.IN:
            return self.charset(av, flags)
        if op is _c.BRANCH:
            return "(?:" + "|".join(self.seq(p, flags) for p in av[1]) + ")"
        if op is _c.SUBPATTERN:
            group, add, delete, p = av
            return self.group(group, add, delete, self.seq(p, (flags | add) & ~delete))
        if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT):
            lo, hi, p = av
            return self.repeat(op, lo, hi, "(?:" + self.seq(p, flags) + ")")
        if op is _c.AT:
            return self.at(av, flags)
        return self.other(op, av, flags)

    @staticmethod
    def counts(lo: int, hi) -> str:
        return f"{{{lo},}}" if hi is _MAXREPEAT else f"{{{lo},{hi}}}"

    def literal(self, c: int, flags: int) -> str: raise NotImplementedError
    def charset(self, items, flags: int) -> str: raise NotImplementedError
    def group(self, group, add: int, delete: int, inner: str) -> str: raise NotImplementedError
    def repeat(self, op, lo: int, hi, inner: str) -> str: raise NotImplementedError
    def at(self, code, flags: int) -> str: raise NotImplementedError

    def other(self, op, av, flags: int) -> str:
        raise _Unsupported(str(op))


def _flag_letters(flags: int) -> str:
    return "".join(letter for letter, bit in (("i", _IGNORECASE), ("m", _MULTILINE), ("s", _DOTALL)) if flags & bit)


class _PythonWriter(_Writer):
    """re's own syntax (for the `regex` module): every literal as \\U escape, `$` as `\\Z`
    outside multiline scopes."""

    _CATEGORIES = {
        _c.CATEGORY_DIGIT: r"\d", _c.CATEGORY_NOT_DIGIT: r"\D", _c.CATEGORY_SPACE: r"\s",
        _c.CATEGORY_NOT_SPACE: r"\S", _c.CATEGORY_WORD: r"\w", _c.CATEGORY_NOT_WORD: r"\W",
    }
    _AT = {_c.AT_BEGINNING: "^", _c.AT_BEGINNING_STRING: r"\A", _c.AT_END_STRING: r"\Z",
           _c.AT_BOUNDARY: r"\b", _c.AT_NON_BOUNDARY: r"\B"}

    def literal(self, c: int, flags: int) -> str:
        return f"\\U{c:08x}"

    def charset(self, items, flags: int) -> str:
        out = []
        for op, av in items:
            if op is _c.NEGATE:
                out.append("^")
            elif op is _c.LITERAL:
                out.append(f"\\U{av:08x}")
            elif op is _c.RANGE:
                out.append(f"\\U{av[0]:08x}-\\U{av[1]:08x}")
            elif op is _c.CATEGORY:
                out.append(self._CATEGORIES[av])
            else:
                raise ValueError(f"unexpected {op} in a character set")
        return "[" + "".join(out) + "]"

    def group(self, group, add: int, delete: int, inner: str) -> str:
        if group is not None:
            return "(" + inner + ")"
        on = _flag_letters(add) + ("a" if add & _ASCII else "")
        off = _flag_letters(delete)
        if not on and not off:
            return "(?:" + inner + ")"
        return f"(?{on}{'-' + off if off else ''}:{inner})"

    def repeat(self, op, lo: int, hi, inner: str) -> str:
        suffix = {_c.MIN_REPEAT: "?", _c.POSSESSIVE_REPEAT: "+"}.get(op, "")
        return inner + self.counts(lo, hi) + suffix

    def at(self, code, flags: int) -> str:
        if code is _c.AT_END:
            return "$" if flags & _MULTILINE else r"\Z"
        return self._AT[code]

    def other(self, op, av, flags: int) -> str:
        if op is _c.GROUPREF:
            return f"(?:\\{av})"
        if op is _c.GROUPREF_EXISTS:
            group, yes, no = av
            return f"(?({group}){self.seq(yes, flags)}" + (f"|{self.seq(no, flags)}" if no else "") + ")"
        if op in (_c.ASSERT, _c.ASSERT_NOT):
            direction, p = av
            kind = ("=" if op is _c.ASSERT else "!")
            return f"(?{'<' if direction < 0 else ''}{kind}{self.seq(p, flags)})"
        if op is _c.ATOMIC_GROUP:
            return "(?>" + self.seq(av, flags) + ")"
        raise ValueError(f"unexpected {op} in a regular expression")


# Python's re folds these three together under IGNORECASE; RE2's case folding leaves out the
# dotless i, so they are spelled out.
_DOTLESS = frozenset({0x49, 0x69, 0x131})


_SCANNED = 0x40000  # planes 0-3; the rest of Unicode holds no letter, digit or space (a test checks)


def _category_table() -> dict:
    """(category, ASCII mode) -> the code point ranges `re` gives it (\\d, \\W, ...), read from
    `re` itself so they are its Unicode version's, not RE2's. Built once, at import (about 50
    ms): on first use it would stall the loop that serves requests."""
    table = {}
    for ascii_mode, size in ((False, _SCANNED), (True, 0x80)):
        everything = "".join(map(chr, range(size)))
        for positive, negative, shorthand in ((_c.CATEGORY_DIGIT, _c.CATEGORY_NOT_DIGIT, r"\d+"),
                                              (_c.CATEGORY_WORD, _c.CATEGORY_NOT_WORD, r"\w+"),
                                              (_c.CATEGORY_SPACE, _c.CATEGORY_NOT_SPACE, r"\s+")):
            rx = re.compile(shorthand, re.ASCII if ascii_mode else 0)
            spans = [(m.start(), m.end() - 1) for m in rx.finditer(everything)]
            table[positive, ascii_mode] = tuple(spans)
            table[negative, ascii_mode] = tuple(_complement(spans))
    return table


def _ranges(category, ascii_mode: bool) -> tuple[tuple[int, int], ...]:
    return _CATEGORY_RANGES[category, ascii_mode]


def _complement(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out, at = [], 0
    for lo, hi in spans:
        if lo > at:
            out.append((at, lo - 1))
        at = hi + 1
    if at <= 0x10FFFF:
        out.append((at, 0x10FFFF))
    return out


_CATEGORY_RANGES = _category_table()


def _class_text(spans) -> str:
    return "".join(f"\\x{{{lo:x}}}" if lo == hi else f"\\x{{{lo:x}}}-\\x{{{hi:x}}}" for lo, hi in spans)


class _Re2Writer(_Writer):
    """RE2's syntax: every literal as \\x{...}, classes as explicit code point ranges."""

    def prefix(self, flags: int) -> str:
        if flags & _LOCALE:
            raise _Unsupported("LOCALE")
        letters = _flag_letters(flags)
        return f"(?{letters})" if letters else ""

    def literal(self, c: int, flags: int) -> str:
        if flags & _IGNORECASE:
            if flags & _ASCII:
                raise _Unsupported("ASCII-only case folding")
            if c in _DOTLESS:
                return "[" + _class_text((x, x) for x in sorted(_DOTLESS)) + "]"
        return f"\\x{{{c:x}}}"

    def charset(self, items, flags: int) -> str:
        ignorecase = flags & _IGNORECASE
        if ignorecase and flags & _ASCII:
            raise _Unsupported("ASCII-only case folding")
        negate = False
        plain: list[tuple[int, int]] = []
        categories: list[tuple[int, int]] = []
        for op, av in items:
            if op is _c.NEGATE:
                negate = True
            elif op is _c.LITERAL:
                plain.append((av, av))
            elif op is _c.RANGE:
                plain.append(av)
            elif op is _c.CATEGORY:
                categories.extend(_ranges(av, bool(flags & _ASCII)))
            else:
                raise _Unsupported(str(op))
        if ignorecase and any(lo <= x <= hi for lo, hi in plain for x in _DOTLESS):
            plain.extend((x, x) for x in _DOTLESS)
        caret = "^" if negate else ""
        if not (ignorecase and categories):
            return "[" + caret + _class_text(plain + categories) + "]"
        # Categories do not fold case in re; under (?i) RE2 would fold them: keep them apart.
        if negate:
            raise _Unsupported("negated class with categories under IGNORECASE")
        parts = ["(?-i:[" + _class_text(categories) + "])"]
        if plain:
            parts.append("[" + _class_text(plain) + "]")
        return "(?:" + "|".join(parts) + ")"

    def group(self, group, add: int, delete: int, inner: str) -> str:
        if (add | delete) & _LOCALE:
            raise _Unsupported("LOCALE")
        on, off = _flag_letters(add), _flag_letters(delete)
        if not on and not off:
            return "(?:" + inner + ")"
        return f"(?{on}{'-' + off if off else ''}:{inner})"

    def repeat(self, op, lo: int, hi, inner: str) -> str:
        if op is _c.POSSESSIVE_REPEAT:
            raise _Unsupported("possessive repeat")
        if lo > _MAX_COUNT or (hi is not _MAXREPEAT and hi > _MAX_COUNT):
            raise _Unsupported("count over 1000")
        return inner + self.counts(lo, hi) + ("?" if op is _c.MIN_REPEAT else "")

    def at(self, code, flags: int) -> str:
        if code is _c.AT_BEGINNING:
            return "^"
        if code is _c.AT_BEGINNING_STRING:
            return r"\A"
        if code is _c.AT_END:
            return "$"  # RE2: the very end, or every line's end under (?m)
        if code is _c.AT_END_STRING:
            return r"\z"
        if flags & _ASCII and code in (_c.AT_BOUNDARY, _c.AT_NON_BOUNDARY):
            return r"\b" if code is _c.AT_BOUNDARY else r"\B"
        raise _Unsupported(f"{code} (RE2's word boundaries are ASCII only)")
