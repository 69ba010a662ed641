"""What every page is made of: ``Page`` (title, HTML parts and Tables, its data) and the cells
and tables several pages share."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from mlkit.registry import Deployment, ModelVersion
from mlkit.ui.html import Html, Table, esc, link


@dataclass
class Page:
    title: str
    body: list[Any]  # HTML text and Tables, in order
    data: Any  # the read model (``?format=json``)
    crumbs: list[tuple[str, str]] = field(default_factory=list)

    @property
    def tables(self) -> dict[str, Table]:
        return {t.name: t for t in _tables(self.body)}

    def html(self, path: str, query: dict[str, str]) -> str:
        return "".join(_render(part, path, query) for part in self.body)


def _tables(parts: list[Any]) -> list[Table]:
    out: list[Table] = []
    for part in parts:
        if isinstance(part, Table):
            out.append(part)
        elif isinstance(part, list):
            out.extend(_tables(part))
    return out


def _render(part: Any, path: str, query: dict[str, str]) -> str:
    if isinstance(part, Table):
        return part.render(path, query)
    if isinstance(part, list):
        return "".join(_render(p, path, query) for p in part)
    return str(part)


def version_href(model: str, version: int) -> str:
    return f"/models/{quote(model)}/versions/{version}"


def vlink(mv: ModelVersion) -> Html:
    return link(f"{mv.model}:{mv.version}", version_href(mv.model, mv.version))


def pre(value: Any) -> Html:
    return Html(f"<pre>{esc(pretty(value))}</pre>", value)


def signed(value: Any) -> Html | None:
    """A change, with its sign."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    return Html(f"{value:+.4f}", value)


def span(value: Any) -> Html | None:
    """An interval ``[low, high]`` of a change."""
    if not isinstance(value, list | tuple) or len(value) != 2:
        return None
    return Html(f"[{value[0]:+.4f}, {value[1]:+.4f}]", list(value))


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def deployments_table(name: str, rows: list[Deployment]) -> Table:
    return Table(
        name,
        ["id", "model", "version", "endpoint", "traffic", "active", "action", "deployed"]
        + ["retired", "actor", "reason", "verdict"],
        [
            [
                Html(f'<span id="deployment-{d.id}">{d.id}</span>', d.id),
                d.model,
                link(d.version, version_href(d.model, d.version)),
                d.endpoint,
                Html(f"{d.traffic_percent}%", d.traffic_percent),
                d.active,
                d.action,
                d.deployed_at,
                d.retired_at,
                d.actor,
                d.reason,
                link(d.verdict_id, f"{version_href(d.model, d.version)}#verdict-{d.verdict_id}")
                if d.verdict_id
                else None,
            ]
            for d in rows
        ],
    )


def diff(b: Any, a: Any) -> float | None:
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return float(b) - float(a)
    return None
