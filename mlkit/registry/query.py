"""``--where`` filters and ``--sort`` keys over versions and runs.

    metrics.accuracy > 0.98 and (tags.team = 'vision' or tags.team = 'ml')

Grammar (keywords in any case)::

    expr       := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | "(" expr ")" | comparison
    comparison := field op value
    field      := name ("." name)*            e.g. version, metrics.accuracy, tags.team
    op         := = | == | != | <> | < | <= | > | >= | like
    value      := number | 'text' | "text" | true | false | null

Parentheses and ``not`` nest at most ``MAX_DEPTH`` deep.

A comparison with a missing field is false (as NULL is in SQL), except ``!=`` and ``= null``.
A text value compared with a number is read as a number when it is one (tags are text).
``like`` matches text with ``%`` (any run of characters) and ``_`` (one character).

Filters run in Python over the records the store returns, so they mean the same on every
database; fields are checked against the record's kind before anything is read. Errors are
UsageError naming the position and what was expected.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mlkit.errors import UsageError

# Fields each kind of record offers: plain ones, and the ones that take ``.key`` (JSON maps).
VERSION_FIELDS = (
    "model",
    "version",
    "run_id",
    "created_at",
    "size_bytes",
    "description",
    "artifact_sha256",
    "artifact_uri",
    "aliases",
)
VERSION_MAPS = ("metrics", "tags", "signature")
RUN_FIELDS = (
    "id",
    "experiment",
    "experiment_path",
    "status",
    "code_version",
    "started_at",
    "finished_at",
    "error",
    "dead",
    "hostname",
)
RUN_MAPS = ("params", "metrics", "tags", "data_fingerprint", "environment")

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<num>-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?![\w.])
      | (?P<str>'(?:[^']|'')*'|"(?:[^"]|"")*")
      | (?P<op><=|>=|!=|<>|==|=|<|>)
      | (?P<paren>[()])
      | (?P<word>[A-Za-z_][\w-]*(?:\.[\w-]+)*)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "like", "true", "false", "null"}
MAX_DEPTH = 32  # nested parentheses and nots; deeper filters are refused, not recursed into


@dataclass(frozen=True)
class Token:
    kind: str  # num, str, op, paren, word, end
    text: str
    pos: int
    value: Any = None


def _tokens(source: str) -> list[Token]:
    out: list[Token] = []
    pos = 0
    while pos < len(source):
        if source[pos:].strip() == "":
            break
        match = _TOKEN.match(source, pos)
        if match is None or match.end() == pos:
            at = pos + len(source[pos:]) - len(source[pos:].lstrip())
            raise _error(source, at, f"unexpected character {source[at]!r}")
        kind = match.lastgroup or ""
        text = match.group(kind)
        start = match.start(kind)
        value: Any = None
        if kind == "num":
            value = float(text) if any(c in text for c in ".eE") else int(text)
        elif kind == "str":
            value = text[1:-1].replace(text[0] * 2, text[0])
        out.append(Token(kind, text, start, value))
        pos = match.end()
    out.append(Token("end", "", len(source)))
    return out


def _error(source: str, pos: int, what: str) -> UsageError:
    shown = source if len(source) <= 80 else f"{source[:60]}...{source[-12:]}"
    return UsageError(
        f"invalid --where {shown!r} at position {pos + 1}: {what}",
        hint="for example: metrics.accuracy > 0.98 and (tags.team = 'vision' or tags.team = 'ml')",
    )


Predicate = Callable[[Mapping[str, Any]], bool]


def _any_of(parts: tuple[Predicate, ...]) -> Predicate:
    return lambda record: any(p(record) for p in parts)


def _all_of(parts: tuple[Predicate, ...]) -> Predicate:
    return lambda record: all(p(record) for p in parts)


class _Parser:
    def __init__(self, source: str, fields: Sequence[str], maps: Sequence[str]) -> None:
        self.source, self.fields, self.maps = source, fields, maps
        self.tokens = _tokens(source)
        self.i = 0
        self.depth = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def _is_word(self, word: str) -> bool:
        return self.tok.kind == "word" and self.tok.text.lower() == word

    def parse(self) -> Predicate:
        if self.tok.kind == "end":
            raise _error(self.source, 0, "the filter is empty")
        pred = self._or()
        if self.tok.kind != "end":
            raise _error(
                self.source, self.tok.pos, f"expected 'and', 'or' or the end, got {self.tok.text!r}"
            )
        return pred

    def _or(self) -> Predicate:
        parts = [self._and()]
        while self._is_word("or"):
            self.i += 1
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else _any_of(tuple(parts))

    def _and(self) -> Predicate:
        parts = [self._not()]
        while self._is_word("and"):
            self.i += 1
            parts.append(self._not())
        return parts[0] if len(parts) == 1 else _all_of(tuple(parts))

    def _not(self) -> Predicate:
        opens = self._is_word("not") or (self.tok.kind == "paren" and self.tok.text == "(")
        if not opens:
            return self._comparison()
        if self.depth >= MAX_DEPTH:
            raise _error(
                self.source,
                self.tok.pos,
                f"parentheses and 'not' nest more than {MAX_DEPTH} deep",
            )
        self.depth += 1
        try:
            return self._nested()
        finally:
            self.depth -= 1

    def _nested(self) -> Predicate:
        if self._is_word("not"):
            self.i += 1
            inner = self._not()
            return lambda r: not inner(r)
        self.i += 1  # "("
        inner = self._or()
        if not (self.tok.kind == "paren" and self.tok.text == ")"):
            raise _error(self.source, self.tok.pos, "expected ')'")
        self.i += 1
        return inner

    def _comparison(self) -> Predicate:
        tok = self.tok
        if tok.kind != "word" or tok.text.lower() in _KEYWORDS:
            raise _error(
                self.source,
                tok.pos,
                f"expected a field such as metrics.accuracy, got {tok.text or 'the end'!r}",
            )
        path = check_field(tok.text, self.fields, self.maps, self.source, tok.pos)
        self.i += 1
        op_tok = self.tok
        if op_tok.kind == "op":
            op = {"==": "=", "<>": "!="}.get(op_tok.text, op_tok.text)
        elif self._is_word("like"):
            op = "like"
        else:
            raise _error(
                self.source,
                op_tok.pos,
                f"expected a comparison (=, !=, <, <=, >, >=, like) after {tok.text}",
            )
        self.i += 1
        val_tok = self.tok
        if val_tok.kind in ("num", "str"):
            value = val_tok.value
        elif val_tok.kind == "word" and val_tok.text.lower() in ("true", "false", "null"):
            value = {"true": True, "false": False, "null": None}[val_tok.text.lower()]
        else:
            raise _error(
                self.source,
                val_tok.pos,
                f"expected a value after {op_tok.text!r} (a number, 'text', true, false or null)",
            )
        if op == "like" and not isinstance(value, str):
            raise _error(self.source, val_tok.pos, "like needs a 'text' pattern")
        if value is None and op not in ("=", "!="):
            raise _error(self.source, val_tok.pos, "null can only be compared with = or !=")
        self.i += 1
        return _compare(path, op, value)


def check_field(
    name: str, fields: Sequence[str], maps: Sequence[str], source: str | None = None, pos: int = 0
) -> tuple[str, ...]:
    """``name`` split on dots, after checking its first part is a field of the record kind."""
    path = tuple(name.split("."))
    if (len(path) == 1 and path[0] in fields) or (len(path) >= 2 and path[0] in maps):
        return path
    known = ", ".join([*fields, *(f"{m}.KEY" for m in maps)])
    what = f"unknown field {name!r}; fields: {known}"
    if source is None:
        raise UsageError(f"invalid --sort {name!r}: {what}")
    raise _error(source, pos, what)


def _lookup(record: Mapping[str, Any], path: tuple[str, ...]) -> tuple[bool, Any]:
    value: Any = record
    for part in path:
        if not isinstance(value, Mapping) or part not in value:
            return False, None
        value = value[part]
    return True, value


def _coerce(value: Any, literal: Any) -> Any:
    """Bring a stored value to the literal's type where that is meaningful (tags are text)."""
    if isinstance(literal, bool) or literal is None:
        return value
    if isinstance(literal, int | float) and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    if isinstance(literal, str) and isinstance(value, datetime):
        return value.isoformat()
    return value


def _like(pattern: str) -> re.Pattern[str]:
    parts = ("." if c == "_" else ".*" if c == "%" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL)


def _compare(path: tuple[str, ...], op: str, literal: Any) -> Predicate:
    regex = _like(literal) if op == "like" else None

    def pred(record: Mapping[str, Any]) -> bool:
        found, value = _lookup(record, path)
        if literal is None:
            return (value is None) == (op == "=")
        if not found or value is None:
            return op == "!="
        value = _coerce(value, literal)
        if isinstance(value, list | tuple) and op in ("=", "!="):
            return (literal in value) == (op == "=")  # aliases = 'champion'
        if regex is not None:
            return isinstance(value, str) and regex.fullmatch(value) is not None
        if op == "=":
            return value == literal
        if op == "!=":
            return value != literal
        try:
            return {
                "<": value < literal,
                "<=": value <= literal,
                ">": value > literal,
                ">=": value >= literal,
            }[op]
        except TypeError:  # text against a number: not comparable, so not a match
            return False

    return pred


def parse_where(source: str, fields: Sequence[str], maps: Sequence[str]) -> Predicate:
    """A predicate over record dicts; UsageError when ``source`` is not a valid filter."""
    if not isinstance(source, str):
        raise UsageError(f"invalid --where {source!r}: expected text")
    return _Parser(source, fields, maps).parse()


@dataclass(frozen=True)
class SortKey:
    path: tuple[str, ...]
    descending: bool


def parse_sort(source: str, fields: Sequence[str], maps: Sequence[str]) -> SortKey:
    """``FIELD`` or ``FIELD:asc`` / ``FIELD:desc``."""
    name, _, direction = source.strip().partition(":")
    if direction.lower() not in ("", "asc", "desc"):
        raise UsageError(
            f"invalid --sort {source!r}: the direction must be asc or desc",
            hint="for example --sort metrics.accuracy:desc",
        )
    return SortKey(check_field(name, fields, maps), direction.lower() == "desc")


def apply(
    records: Iterable[Any],
    as_dict: Callable[[Any], Mapping[str, Any]],
    where: Predicate | None = None,
    sort: SortKey | None = None,
    limit: int | None = None,
) -> list[Any]:
    """Filter, sort (missing values last, either direction) and cut ``records``."""
    rows = [(r, as_dict(r)) for r in records]
    if where is not None:
        rows = [(r, d) for r, d in rows if where(d)]
    if sort is not None:
        present: list[tuple[tuple[int, Any], Any, Mapping[str, Any]]] = []
        missing: list[tuple[tuple[int, Any], Any, Mapping[str, Any]]] = []
        for r, d in rows:
            found, value = _lookup(d, sort.path)
            (present if found and value is not None else missing).append((_sort_value(value), r, d))
        numbers = [x for x in present if x[0][0] == 0]
        texts = [x for x in present if x[0][0] == 1]
        ordered = sorted(numbers, key=lambda x: x[0], reverse=sort.descending) + sorted(
            texts, key=lambda x: x[0], reverse=sort.descending
        )
        rows = [(r, d) for _, r, d in ordered] + [(r, d) for _, r, d in missing]
    out = [r for r, _ in rows]
    return out if limit is None else out[-limit:] if sort is None else out[:limit]


def _sort_value(value: Any) -> tuple[int, Any]:
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, int | float):
        return (0, value)
    if isinstance(value, datetime):
        return (1, value.isoformat())
    return (1, str(value))


def filter_versions(
    versions: Iterable[Any],
    *,
    where: str | None = None,
    sort: str | None = None,
    limit: int | None = None,
) -> list[Any]:
    """Model versions matching ``where``, ordered by ``sort``, cut to ``limit`` (see ``apply``)."""
    predicate = None if where is None else parse_where(where, VERSION_FIELDS, VERSION_MAPS)
    key = None if sort is None else parse_sort(sort, VERSION_FIELDS, VERSION_MAPS)
    return apply(versions, vars, predicate, key, limit)


def filter_runs(
    runs: Iterable[Any],
    *,
    where: str | None = None,
    sort: str | None = None,
    limit: int | None = None,
) -> list[Any]:
    """Runs (newest first) matching ``where``, ordered by ``sort``, the first ``limit``."""
    predicate = None if where is None else parse_where(where, RUN_FIELDS, RUN_MAPS)
    key = None if sort is None else parse_sort(sort, RUN_FIELDS, RUN_MAPS)
    out = apply(runs, vars, predicate, key)
    return out if limit is None else out[:limit]
