"""Every property of a STIX 2.1 object as readable, escaped HTML.

Whatever the type, each property is shown: text with its line breaks, references as links to
the objects the reader may see, lists as lists, dictionaries (hashes, extensions) as nested
definition lists, the indicator pattern as code, external references with their ATT&CK or CVE
ids and only http(s) URLs as links. Every value passes through `format_html`/`escape`: STIX text
is written by other organisations and is never trusted as markup.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.template.defaultfilters import linebreaksbr
from django.urls import reverse
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

MAX_DEPTH = 6

# Shown first, in this order; the remaining properties follow in the object's own order.
LEADING = (
    "name",
    "value",
    "description",
    "aliases",
    "pattern",
    "pattern_type",
    "pattern_version",
    "valid_from",
    "valid_until",
    "relationship_type",
    "source_ref",
    "target_ref",
    "kill_chain_phases",
    "external_references",
)
# Identity of the version; shown in the page's header and version list instead.
HEADER = ("type", "id", "spec_version")
LABELS = {
    "created_by_ref": "Created by",
    "object_marking_refs": "Markings",
    "object_refs": "Objects",
    "external_references": "External references",
    "kill_chain_phases": "Kill chain phases",
    "sighting_of_ref": "Sighting of",
    "observed_data_refs": "Observed data",
    "where_sighted_refs": "Where sighted",
    "x_mitre_id": "ATT&CK id",
}


@dataclass(frozen=True)
class Property:
    name: str
    label: str
    html: SafeString


LinkFor = Callable[[str], tuple[str | None, str]]
"""Maps a STIX id to (URL of its page or None when the reader may not see it, its name)."""


def properties(body: dict[str, Any], link_for: LinkFor) -> list[Property]:
    """Every property of the object but its type, id and spec version, rendered."""
    names = [name for name in LEADING if name in body]
    names += [name for name in body if name not in names and name not in HEADER]
    return [Property(name, label(name), render_value(name, body[name], link_for)) for name in names]


def label(name: str) -> str:
    if name in LABELS:
        return LABELS[name]
    words = name.removeprefix("x_").removesuffix("_refs").removesuffix("_ref").replace("_", " ")
    return words[:1].upper() + words[1:]


def render_value(name: str, value: Any, link_for: LinkFor, depth: int = 0) -> SafeString:
    """One property's value as escaped HTML, chosen by its name and JSON type."""
    if depth > MAX_DEPTH:
        return format_html("<code>{}</code>", json.dumps(value, ensure_ascii=False))
    if name.endswith("_ref") and isinstance(value, str):
        return stix_link(value, link_for)
    if name.endswith("_refs") and isinstance(value, list):
        return _list(value, lambda item: stix_link(str(item), link_for), "refs")
    if name == "pattern":
        return format_html('<pre class="pattern"><code>{}</code></pre>', value)
    if name == "external_references" and isinstance(value, list):
        return _list(value, _external_reference, "external-references")
    if name == "kill_chain_phases" and isinstance(value, list):
        return _list(value, _kill_chain_phase, "kill-chain")
    if name == "hashes" and isinstance(value, dict):
        return _dictionary(value, lambda key, item: format_html("<code>{}</code>", item))
    return _generic(name, value, link_for, depth)


def stix_link(stix_id: str, link_for: LinkFor) -> SafeString:
    url, name = link_for(stix_id)
    if url is None:
        return format_html('<code title="not shared with your organisation">{}</code>', stix_id)
    if name and name != stix_id.split("--")[0]:
        return format_html('<a href="{}">{}</a> <code class="muted">{}</code>', url, name, stix_id)
    return format_html('<a href="{}"><code>{}</code></a>', url, stix_id)


def object_url(object_id: int) -> str:
    return reverse("object-detail", args=[object_id])


def _generic(name: str, value: Any, link_for: LinkFor, depth: int) -> SafeString:
    if isinstance(value, bool):
        return mark_safe("yes" if value else "no")  # noqa: S308 - constant text
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, int | float) or value is None:
        return format_html("{}", json.dumps(value))
    if isinstance(value, list):
        return _list(
            value, lambda item: render_value(name + "[]", item, link_for, depth + 1), "values"
        )
    if isinstance(value, dict):
        return _dictionary(value, lambda key, item: render_value(key, item, link_for, depth + 1))
    return format_html("<code>{}</code>", repr(value))


def _text(value: str) -> SafeString:
    if "\n" in value or len(value) > 120:
        # linebreaksbr escapes first (autoescape), then adds <br>.
        return format_html('<div class="prose">{}</div>', linebreaksbr(value, autoescape=True))
    return escape(value)


def _list(items: list[Any], render: Callable[[Any], SafeString], css: str) -> SafeString:
    if not items:
        return mark_safe('<span class="muted">none</span>')
    return format_html(
        '<ul class="{}">{}</ul>',
        css,
        format_html_join("", "<li>{}</li>", ((render(i),) for i in items)),
    )


def _dictionary(value: dict[str, Any], render: Callable[[str, Any], SafeString]) -> SafeString:
    rows = format_html_join(
        "", "<dt>{}</dt><dd>{}</dd>", ((key, render(key, item)) for key, item in value.items())
    )
    return format_html('<dl class="nested">{}</dl>', rows)


def _external_reference(reference: Any) -> SafeString:
    if not isinstance(reference, dict):
        return escape(str(reference))
    parts = [format_html("<strong>{}</strong>", reference.get("source_name", "reference"))]
    if reference.get("external_id"):
        parts.append(format_html("<code>{}</code>", reference["external_id"]))
    url = reference.get("url")
    if isinstance(url, str) and urlsplit(url).scheme in ("http", "https"):
        parts.append(
            format_html('<a href="{}" rel="noopener noreferrer nofollow">{}</a>', url, url)
        )
    elif url:
        parts.append(format_html("<code>{}</code>", url))  # never a javascript: link
    if reference.get("description"):
        parts.append(_text(str(reference["description"])))
    if isinstance(reference.get("hashes"), dict):
        parts.append(
            _dictionary(reference["hashes"], lambda key, item: format_html("<code>{}</code>", item))
        )
    return format_html_join(" · ", "{}", ((part,) for part in parts))


def _kill_chain_phase(phase: Any) -> SafeString:
    if not isinstance(phase, dict):
        return escape(str(phase))
    return format_html(
        '<span class="muted">{}</span>: {}',
        phase.get("kill_chain_name", ""),
        phase.get("phase_name", ""),
    )


def title(body: dict[str, Any]) -> str:
    """What a list shows for an object: its name, its value, or its type."""
    for key in ("name", "value", "key", "path", "subject", "number", "relationship_type"):
        if body.get(key) not in (None, ""):
            return str(body[key])
    return str(body.get("type", "object"))
