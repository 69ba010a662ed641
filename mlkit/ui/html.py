"""HTML building blocks: escaping, links, tables (each with its JSON download) and the layout."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import urlencode

NAV = (
    ("/", "Models"),
    ("/runs", "Runs"),
    ("/endpoints", "Endpoints"),
    ("/compare", "Compare"),
)


@dataclass(frozen=True)
class Html:
    """Markup to insert as is, with the plain value a JSON download gives instead."""

    markup: str
    value: Any = None


def esc(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def link(text: Any, href: str) -> Html:
    return Html(f'<a href="{esc(href)}">{esc(text)}</a>', text)


def fmt(value: Any) -> str:
    """A cell's text: metrics to 4 decimals, times to the second, the rest as is."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:.4f}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dict):
        return ", ".join(f"{k}={fmt(v)}" for k, v in sorted(value.items()))
    if isinstance(value, list | tuple):
        return ", ".join(fmt(v) for v in value)
    return str(value)


def size(n: int | None) -> str:
    if n is None:
        return ""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(n)


def plain(value: Any) -> Any:
    """A cell as JSON: the value behind markup, times as ISO text."""
    if isinstance(value, Html):
        return plain(value.value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass
class Table:
    """A table of a page: rendered as HTML, downloadable as JSON (rows as objects)."""

    name: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    caption: str = ""

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, (plain(c) for c in row), strict=True)) for row in self.rows]

    def render(self, path: str, query: dict[str, str]) -> str:
        href = f"{path}?{urlencode({**query, 'format': 'json', 'table': self.name})}"
        head = "".join(f"<th>{esc(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in row) + "</tr>" for row in self.rows
        )
        if not self.rows:
            body = f'<tr><td colspan="{len(self.columns)}" class="dim">none</td></tr>'
        caption = f"<caption>{esc(self.caption)} " if self.caption else "<caption>"
        return (
            f'<table id="t-{esc(self.name)}" data-table="{esc(self.name)}">{caption}'
            f'<a class="json" href="{esc(href)}">JSON</a></caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        )


def _cell(value: Any) -> str:
    if isinstance(value, Html):
        return value.markup
    return esc(fmt(value))


def section(title: str, *parts: Any, anchor: str = "") -> list[Any]:
    """A titled section of HTML text and Tables (kept as Tables so their JSON stays reachable)."""
    ident = f' id="{esc(anchor)}"' if anchor else ""
    return [f"<section{ident}><h2>{esc(title)}</h2>", *parts, "</section>"]


def pairs(items: list[tuple[str, Any]]) -> str:
    """A definition list of label: value (empty values left out)."""
    body = "".join(
        f"<dt>{esc(k)}</dt><dd>{_cell(v)}</dd>" for k, v in items if v is not None and v != ""
    )
    return f'<dl class="pairs">{body}</dl>'


def layout(title: str, body: str, *, crumbs: list[tuple[str, str]] | None = None) -> str:
    nav = "".join(f'<a href="{href}">{esc(text)}</a>' for href, text in NAV)
    trail = ""
    if crumbs:
        trail = (
            '<p class="crumbs">'
            + " / ".join(f'<a href="{esc(h)}">{esc(t)}</a>' if h else esc(t) for t, h in crumbs)
            + "</p>"
        )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)} · mlkit</title>"
        '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">'
        '<link rel="stylesheet" href="/static/ui.css">'
        '<script src="/static/ui.js" defer></script></head><body>'
        f'<header><a class="brand" href="/">mlkit</a><nav>{nav}</nav></header>'
        f"<main>{trail}<h1>{esc(title)}</h1>{body}</main></body></html>"
    )
