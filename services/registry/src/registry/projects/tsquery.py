"""PostgreSQL's tsquery text form (`websearch_to_tsquery(...)::text`) as a tree, for matching and
ranking in the process (text_index.py). PostgreSQL parses the user's words and stems them; this
only reads its answer: `'a' | 'b' & !'c' <-> 'd'`, with `!` binding tightest, then `<N>`/`<->`,
then `&`, then `|`, as PostgreSQL prints them (it adds the parentheses its tree needs)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(r"\s*(?:(?P<lex>'(?:[^'\\]|''|\\.)*')(?P<mods>:[*A-Da-d]+)?"
                    r"|(?P<op>[&|!()])|<(?P<dist>-|\d+)>)")


@dataclass(frozen=True)
class Node:
    op: str  # "val", "not", "and", "or", "phrase"
    lexeme: str = ""  # "val"
    plain: bool = True  # "val": no prefix (:*) and no weight restriction
    args: tuple[Node, ...] = ()
    distance: int = 1  # "phrase": <N>


class Unreadable(ValueError):
    """A tsquery text this reader does not know (the caller asks PostgreSQL instead)."""


def parse(text: str) -> Node | None:
    """The tree of a tsquery's text form; None for the empty query (it matches nothing)."""
    tokens = _tokens(text)
    if not tokens:
        return None
    pos, node = _or(tokens, 0)
    if pos != len(tokens):
        raise Unreadable(text)
    return node


def _tokens(text: str) -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    i = 0
    while i < len(text):
        if text[i:].strip() == "":
            break
        m = _TOKEN.match(text, i)
        if m is None:
            raise Unreadable(text)
        i = m.end()
        if m.group("lex") is not None:
            body = m.group("lex")[1:-1]
            lexeme = re.sub(r"''|\\(.)", lambda g: g.group(1) or "'", body)
            out.append(("val", Node("val", lexeme, plain=not m.group("mods"))))
        elif m.group("op") is not None:
            out.append((m.group("op"), None))
        else:
            d = m.group("dist")
            out.append(("<>", 1 if d == "-" else int(d)))
    return out


def _or(tokens, pos):
    pos, left = _and(tokens, pos)
    while pos < len(tokens) and tokens[pos][0] == "|":
        pos, right = _and(tokens, pos + 1)
        left = Node("or", args=(left, right))
    return pos, left


def _and(tokens, pos):
    pos, left = _phrase(tokens, pos)
    while pos < len(tokens) and tokens[pos][0] == "&":
        pos, right = _phrase(tokens, pos + 1)
        left = Node("and", args=(left, right))
    return pos, left


def _phrase(tokens, pos):
    pos, left = _not(tokens, pos)
    while pos < len(tokens) and tokens[pos][0] == "<>":
        distance = tokens[pos][1]
        pos, right = _not(tokens, pos + 1)
        left = Node("phrase", args=(left, right), distance=distance)
    return pos, left


def _not(tokens, pos):
    if pos >= len(tokens):
        raise Unreadable("unexpected end")
    kind, value = tokens[pos]
    if kind == "!":
        pos, arg = _not(tokens, pos + 1)
        return pos, Node("not", args=(arg,))
    if kind == "(":
        pos, node = _or(tokens, pos + 1)
        if pos >= len(tokens) or tokens[pos][0] != ")":
            raise Unreadable("unbalanced parentheses")
        return pos + 1, node
    if kind == "val":
        return pos + 1, value
    raise Unreadable(f"unexpected {kind}")


def operands(node: Node) -> list[str]:
    """The distinct lexemes in PostgreSQL's rank order (SortAndUniqItems: by bytes, then
    length), negated ones included, as ts_rank counts them."""
    found: set[str] = set()

    def walk(n: Node) -> None:
        if n.op == "val":
            found.add(n.lexeme)
        for a in n.args:
            walk(a)
    walk(node)
    return sorted(found, key=lambda s: s.encode())


def readable_here(node: Node) -> bool:
    """Whether the process can match this tree itself: no prefix or weight-restricted operands,
    and phrases only as chains of words (`'a' <-> 'b' <2> 'c'`, as quoted or hyphenated words
    become), not phrases of negations or of and/or."""
    if node.op == "val":
        return node.plain
    if node.op == "phrase":
        left, right = node.args
        return right.op == "val" and right.plain and (
            readable_here(left) if left.op == "phrase" else left.op == "val" and left.plain)
    return all(readable_here(a) for a in node.args)
