"""Run filter and sort expressions, compiled to SQL with bound parameters.

Grammar (MLflow-like, so users already know it):

    expr     := and_expr ("OR" and_expr)*
    and_expr := atom ("AND" atom)*
    atom     := "(" expr ")" | field op literal | field IN "(" literal ("," literal)* ")"
    field    := attribute | ("params" | "metrics" | "tags") "." name
    op       := = | != | <> | < | <= | > | >= | LIKE | ILIKE

A name may be quoted with backticks or double quotes when it has dots or spaces.
User values never reach SQL text: each literal becomes a `?` placeholder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from workbench.core.errors import InvalidInputError

ATTRIBUTES: dict[str, str] = {
    "run_id": "r.run_id",
    "project": "r.project",
    "name": "r.name",
    "status": "r.status",
    "attempt": "r.attempt",
    "kind": "r.kind",
    "parent_run_id": "r.parent_run_id",
    "created_at": "r.created_at",
    "started_at": "r.started_at",
    "ended_at": "r.ended_at",
    "git_commit": "r.git_commit",
    "data_fingerprint": "r.data_fingerprint",
}
NAMESPACES = ("params", "metrics", "tags")
_OPERATORS = {"=", "!=", "<>", "<", "<=", ">", ">=", "LIKE", "ILIKE"}
_HINT = "example: --where \"params.lr = '0.01' and metrics.auc > 0.9 and status = 'finished'\""

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)
      | '(?P<string>(?:[^']|'')*)'
      | (?P<op><=|>=|!=|<>|=|<|>)
      | (?P<punct>[(),])
      | `(?P<bquoted>[^`]+)`
      | "(?P<dquoted>[^"]+)"
      | (?P<word>[A-Za-z_][A-Za-z0-9_\-]*)
      | (?P<dot>\.)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str


@dataclass(frozen=True)
class Field:
    """A column a user can name: an attribute of the run, or a key in a namespace."""

    namespace: str | None  # None for attributes
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}.{self.name}" if self.namespace else self.name


@dataclass(frozen=True)
class SqlFragment:
    """SQL text over alias `r` (runs) and the values for its placeholders, in order."""

    sql: str
    params: tuple[object, ...]


def tokenize(text: str) -> list[Token]:
    """Split a filter into tokens; anything unrecognised is an error naming its position."""
    tokens: list[Token] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise InvalidInputError(
                f"malformed filter: unexpected {text[pos:].strip()[:20]!r} at position {pos}", _HINT
            )
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "string":
            value = value.replace("''", "'")
        elif kind in ("bquoted", "dquoted"):
            kind = "name"
        tokens.append(Token(kind, value))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.pos = 0
        self.params: list[object] = []

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise InvalidInputError("malformed filter: it ends too early", _HINT)
        self.pos += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token is not None and token.kind == "word" and token.text.upper() == word:
            self.pos += 1
            return True
        return False

    def expect(self, text: str) -> None:
        token = self.take()
        if token.text != text:
            raise InvalidInputError(
                f"malformed filter: expected {text!r}, got {token.text!r}", _HINT
            )

    def parse(self) -> str:
        sql = self.or_expr()
        if self.peek() is not None:
            raise InvalidInputError(f"malformed filter: unexpected {self.peek().text!r}", _HINT)  # type: ignore[union-attr]
        return sql

    def or_expr(self) -> str:
        parts = [self.and_expr()]
        while self.keyword("OR"):
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def and_expr(self) -> str:
        parts = [self.atom()]
        while self.keyword("AND"):
            parts.append(self.atom())
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def atom(self) -> str:
        token = self.peek()
        if token is not None and token.text == "(":
            self.take()
            inner = self.or_expr()
            self.expect(")")
            return inner
        field = self.field()
        if self.keyword("IN"):
            self.expect("(")
            values = [self.literal()]
            while self.peek() is not None and self.peek().text == ",":  # type: ignore[union-attr]
                self.take()
                values.append(self.literal())
            self.expect(")")
            return _compare(field, "IN", values, self.params)
        op_token = self.take()
        op = op_token.text.upper()
        if op not in _OPERATORS:
            raise InvalidInputError(
                f"malformed filter: {op_token.text!r} is not an operator", _HINT
            )
        return _compare(field, op, [self.literal()], self.params)

    def field(self) -> Field:
        token = self.take()
        if token.kind not in ("word", "name"):
            raise InvalidInputError(
                f"malformed filter: expected a column, got {token.text!r}", _HINT
            )
        nxt = self.peek()
        if (
            token.kind == "word"
            and token.text in NAMESPACES
            and nxt is not None
            and nxt.kind == "dot"
        ):
            self.take()
            name = self.take()
            if name.kind not in ("word", "name", "number"):
                raise InvalidInputError(f"malformed filter: bad key after {token.text}.", _HINT)
            return Field(token.text, name.text)
        return attribute(token.text)

    def literal(self) -> object:
        token = self.take()
        if token.kind == "string":
            return token.text
        if token.kind == "number":
            return float(token.text) if any(c in token.text for c in ".eE") else int(token.text)
        raise InvalidInputError(
            f"malformed filter: expected a value, got {token.text!r}", "quote strings: 'value'"
        )


def attribute(name: str) -> Field:
    """The run attribute `name`, or an error listing the known columns."""
    if name not in ATTRIBUTES:
        known = ", ".join([*ATTRIBUTES, "params.<key>", "metrics.<key>", "tags.<key>"])
        raise InvalidInputError(f"unknown column {name!r}", f"known columns: {known}")
    return Field(None, name)


def _compare(field: Field, op: str, values: list[object], params: list[object]) -> str:
    placeholders = ", ".join("?" for _ in values)
    rhs = f"({placeholders})" if op == "IN" else "?"
    if field.namespace is None:
        params.extend(values)
        return f"{ATTRIBUTES[field.name]} {op} {rhs}"
    numeric = all(isinstance(v, int | float) for v in values)
    table = {"params": "params", "metrics": "latest_metrics", "tags": "tags"}[field.namespace]
    column = "x.value"
    if field.namespace != "metrics" and numeric:
        column = "TRY_CAST(x.value AS DOUBLE)"
    elif field.namespace == "metrics" and not numeric:
        raise InvalidInputError(f"metric {field} compares with numbers, not strings", _HINT)
    params.append(field.name)
    params.extend(values)
    return (
        f"EXISTS (SELECT 1 FROM {table} x WHERE x.run_id = r.run_id AND x.key = ? "
        f"AND {column} {op} {rhs})"
    )


def compile_filter(text: str) -> SqlFragment:
    """Compile a user filter into a WHERE fragment over `runs r` with bound values."""
    parser = _Parser(text)
    sql = parser.parse()
    return SqlFragment(sql, tuple(parser.params))


@dataclass(frozen=True)
class SortKey:
    """What to order runs by: a field and a direction."""

    field: Field
    descending: bool


def parse_sort(text: str) -> SortKey:
    """`metrics.auc`, `-metrics.auc`, `metrics.auc desc` or an attribute such as `created_at`."""
    text = text.strip()
    descending = False
    if text.startswith("-"):
        descending, text = True, text[1:]
    words = text.rsplit(None, 1)
    if len(words) == 2 and words[1].upper() in ("ASC", "DESC"):
        descending, text = words[1].upper() == "DESC", words[0]
    parser = _Parser(text)
    field = parser.field()
    if parser.peek() is not None:
        raise InvalidInputError(
            f"malformed sort key {text!r}", "example: --sort -metrics.auc (minus for descending)"
        )
    return SortKey(field, descending)
