"""Label selectors (`a=b,c!=d,e in (x,y),!f,g`) and field selectors (`spec.nodeName=n1`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Pred = Callable[[dict[str, str]], bool]
_SET = re.compile(r"^\s*([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


class SelectorError(ValueError):
    pass


def _split(selector: str) -> list[str]:
    parts: list[str] = []
    depth, cur = 0, ""
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


def _label_term(term: str) -> Pred:
    m = _SET.match(term)
    if m:
        key, op, values = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",")}
        if op == "in":
            return lambda lb: lb.get(key) in values
        return lambda lb: lb.get(key) not in values
    if "!=" in term:
        k, v = (x.strip() for x in term.split("!=", 1))
        return lambda lb: lb.get(k) != v
    if "=" in term:
        k, v = (x.strip() for x in re.split(r"==?", term, maxsplit=1))
        return lambda lb: lb.get(k) == v
    if term.startswith("!"):
        absent = term[1:].strip()
        return lambda lb: absent not in lb
    if re.match(r"^[\w./-]+$", term):
        return lambda lb: term in lb
    raise SelectorError(f"unable to parse requirement: {term!r}")


def label_selector(selector: str) -> Pred:
    preds = [_label_term(t) for t in _split(selector)]
    return lambda labels: all(p(labels) for p in preds)


def field_value(obj: dict[str, Any], path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    return "" if cur is None else str(cur).lower() if isinstance(cur, bool) else str(cur)


def _field_term(term: str) -> Callable[[dict[str, Any]], bool]:
    if "!=" in term:
        k, v = (x.strip() for x in term.split("!=", 1))
        return lambda o: field_value(o, k) != v
    if "=" in term:
        k, v = (x.strip() for x in re.split(r"==?", term, maxsplit=1))
        return lambda o: field_value(o, k) == v
    raise SelectorError(f"invalid field selector: {term!r}")


def field_selector(selector: str) -> Callable[[dict[str, Any]], bool]:
    preds = [_field_term(t) for t in _split(selector)]
    return lambda obj: all(p(obj) for p in preds)
