"""Forms for STIX 2.1 objects, built from one declarative table per type.

A form turns an analyst's fields into a STIX object (`build_object`) and an object back into
the form's initial values (`initial_from`), so the same form writes new objects and new
versions. Touches no database: the draft's other objects are passed in as choices.
"""

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django import forms
from django.conf import settings

from sharing import stix
from sharing import vocabularies as vocab

# --- Field table --------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One property of a STIX object as the form offers it.

    kind: text | textarea | choice (open vocabulary, free text allowed) | multi (list, open
    vocabulary, checkboxes plus free text) | list (free list, one per line) | timestamp | int |
    float | bool | ref (one object of the draft) | refs (several).
    """

    name: str
    kind: str = "text"
    label: str = ""
    required: bool = False
    vocabulary: tuple[str, ...] = ()
    ref_types: tuple[str, ...] = ()  # for ref/refs: allowed target types (empty: any)
    help: str = ""


def _f(name: str, kind: str = "text", **options: Any) -> Field:
    if "vocabulary" in options:
        options["vocabulary"] = tuple(options["vocabulary"])
    if "ref_types" in options:
        options["ref_types"] = tuple(options["ref_types"])
    return Field(name=name, kind=kind, **options)


DESCRIPTION = _f("description", "textarea")
ALIASES = _f("aliases", "list", help="One per line.")
FIRST_SEEN = _f("first_seen", "timestamp")
LAST_SEEN = _f("last_seen", "timestamp")
KILL_CHAIN = _f(
    "kill_chain_phases",
    "list",
    help="One per line as kill-chain: phase, e.g. mitre-attack: initial-access.",
)
DOMAIN_TYPES = (
    "attack-pattern",
    "campaign",
    "course-of-action",
    "identity",
    "indicator",
    "infrastructure",
    "intrusion-set",
    "location",
    "malware",
    "note",
    "report",
    "threat-actor",
    "tool",
    "vulnerability",
)

OBJECT_FIELDS: dict[str, list[Field]] = {
    "indicator": [
        _f("name"),
        DESCRIPTION,
        _f("indicator_types", "multi", vocabulary=vocab.INDICATOR_TYPES),
        _f("pattern_type", "choice", required=True, vocabulary=vocab.PATTERN_TYPES),
        _f("pattern", "textarea", required=True),
        _f("valid_from", "timestamp", required=True),
        _f("valid_until", "timestamp"),
        KILL_CHAIN,
    ],
    "malware": [
        _f("name", required=True),
        DESCRIPTION,
        _f("malware_types", "multi", vocabulary=vocab.MALWARE_TYPES),
        _f("is_family", "bool", label="Malware family (not one sample)"),
        ALIASES,
        FIRST_SEEN,
        LAST_SEEN,
        _f("capabilities", "multi", vocabulary=vocab.MALWARE_CAPABILITIES),
        KILL_CHAIN,
    ],
    "threat-actor": [
        _f("name", required=True),
        DESCRIPTION,
        _f("threat_actor_types", "multi", vocabulary=vocab.THREAT_ACTOR_TYPES),
        ALIASES,
        _f("roles", "multi", vocabulary=vocab.THREAT_ACTOR_ROLES),
        _f("goals", "list"),
        _f("sophistication", "choice", vocabulary=vocab.SOPHISTICATION),
        _f("resource_level", "choice", vocabulary=vocab.RESOURCE_LEVELS),
        _f("primary_motivation", "choice", vocabulary=vocab.MOTIVATIONS),
        FIRST_SEEN,
        LAST_SEEN,
    ],
    "intrusion-set": [
        _f("name", required=True),
        DESCRIPTION,
        ALIASES,
        _f("goals", "list"),
        _f("resource_level", "choice", vocabulary=vocab.RESOURCE_LEVELS),
        _f("primary_motivation", "choice", vocabulary=vocab.MOTIVATIONS),
        FIRST_SEEN,
        LAST_SEEN,
    ],
    "campaign": [
        _f("name", required=True),
        DESCRIPTION,
        ALIASES,
        _f("objective", "textarea"),
        FIRST_SEEN,
        LAST_SEEN,
    ],
    "attack-pattern": [
        _f("name", required=True),
        DESCRIPTION,
        ALIASES,
        _f(
            "attack_technique",
            label="ATT&CK technique id",
            help="e.g. T1566.001 (Enterprise) or T0855 (ICS); added as an external reference.",
        ),
        _f("attack_domain", "choice", label="ATT&CK matrix", vocabulary=["enterprise", "ics"]),
        KILL_CHAIN,
    ],
    "vulnerability": [
        _f("name", required=True),
        DESCRIPTION,
        _f("cve", label="CVE id", help="e.g. CVE-2024-3400; added as an external reference."),
    ],
    "infrastructure": [
        _f("name", required=True),
        DESCRIPTION,
        _f("infrastructure_types", "multi", vocabulary=vocab.INFRASTRUCTURE_TYPES),
        ALIASES,
        FIRST_SEEN,
        LAST_SEEN,
        KILL_CHAIN,
    ],
    "tool": [
        _f("name", required=True),
        DESCRIPTION,
        _f("tool_types", "multi", vocabulary=vocab.TOOL_TYPES),
        ALIASES,
        _f("tool_version"),
        KILL_CHAIN,
    ],
    "course-of-action": [_f("name", required=True), DESCRIPTION],
    "identity": [
        _f("name", required=True, help="e.g. a targeted sector or organisation."),
        DESCRIPTION,
        _f("identity_class", "choice", vocabulary=vocab.IDENTITY_CLASSES),
        _f("sectors", "multi", vocabulary=vocab.INDUSTRY_SECTORS),
        _f("roles", "list"),
        _f("contact_information"),
    ],
    "location": [
        _f("name"),
        DESCRIPTION,
        _f("region", "choice", vocabulary=vocab.REGIONS),
        _f("country", help="ISO 3166-1 alpha-2 code, e.g. DE."),
        _f("administrative_area"),
        _f("city"),
        _f("latitude", "float"),
        _f("longitude", "float"),
    ],
    "note": [
        _f("abstract"),
        _f("content", "textarea", required=True),
        _f("authors", "list"),
        _f("object_refs", "refs", label="About", required=True),
    ],
    "report": [
        _f("name", required=True),
        DESCRIPTION,
        _f("report_types", "multi", vocabulary=vocab.REPORT_TYPES),
        _f("published", "timestamp", required=True),
        _f("object_refs", "refs", label="Objects", required=True),
    ],
    "relationship": [
        _f("source_ref", "ref", label="Source", required=True, ref_types=DOMAIN_TYPES),
        _f(
            "relationship_type",
            "choice",
            required=True,
            vocabulary=vocab.all_relationship_types(),
            help="Types the spec defines for the chosen source and target are offered first.",
        ),
        _f("target_ref", "ref", label="Target", required=True, ref_types=DOMAIN_TYPES),
        DESCRIPTION,
        _f("start_time", "timestamp"),
        _f("stop_time", "timestamp"),
    ],
    "sighting": [
        _f("sighting_of_ref", "ref", label="Sighting of", required=True, ref_types=DOMAIN_TYPES),
        _f("where_sighted_refs", "refs", label="Seen by", ref_types=("identity", "location")),
        FIRST_SEEN,
        LAST_SEEN,
        _f("count", "int"),
        DESCRIPTION,
    ],
}

# Common properties (STIX 2.1 section 3.2) every form ends with.
COMMON_FIELDS = [
    _f("labels", "list"),
    _f("confidence", "int", help="0 to 100."),
    _f(
        "external_references",
        "list",
        help="One per line: source | external id | URL (any part may be empty).",
    ),
]

# Form-only fields: turned into external references, never STIX properties of their own.
SHORTCUTS = {"attack_technique", "attack_domain", "cve"}

TYPE_LABELS = {
    "indicator": "Indicator",
    "malware": "Malware",
    "threat-actor": "Threat actor",
    "intrusion-set": "Intrusion set",
    "campaign": "Campaign",
    "attack-pattern": "Attack pattern",
    "vulnerability": "Vulnerability",
    "infrastructure": "Infrastructure",
    "tool": "Tool",
    "course-of-action": "Course of action",
    "identity": "Identity (organisation, sector)",
    "location": "Location",
    "note": "Note",
    "report": "Report",
    "relationship": "Relationship",
    "sighting": "Sighting",
}

CVE = re.compile(r"^CVE-\d{4}-\d{4,}$")
ATTACK_TECHNIQUE = re.compile(r"^T\d{4}(\.\d{3})?$")


def fields_of(stix_type: str) -> list[Field]:
    return [*OBJECT_FIELDS[stix_type], *COMMON_FIELDS]


def timestamp(moment: datetime) -> str:
    """STIX 2.1 timestamp with millisecond precision, in UTC."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# --- The form -----------------------------------------------------------------------------


@dataclass
class RefChoice:
    stix_id: str
    stix_type: str
    label: str


class ObjectForm(forms.Form):
    """The form of one STIX type; `refs` are the draft's objects a reference may point to."""

    def __init__(self, *args: Any, stix_type: str, refs: list[RefChoice], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.stix_type = stix_type
        self.stix_fields = fields_of(stix_type)
        self.ref_types = {ref.stix_id: ref.stix_type for ref in refs}
        for spec in self.stix_fields:
            self._add(spec, refs)

    def _add(self, spec: Field, refs: list[RefChoice]) -> None:
        label = spec.label or spec.name.replace("_", " ").capitalize()
        common = {"label": label, "required": spec.required, "help_text": spec.help}
        name_chars = settings.STIX_MAX_NAME_CHARS
        if spec.kind == "text":
            limit = name_chars if spec.name in stix.NAME_KEYS else settings.STIX_MAX_STRING_CHARS
            self.fields[spec.name] = forms.CharField(max_length=limit, **common)
        elif spec.kind == "textarea":
            self.fields[spec.name] = forms.CharField(
                max_length=settings.STIX_MAX_TEXT_CHARS,
                widget=forms.Textarea(attrs={"rows": 4}),
                strip=False,
                **common,
            )
        elif spec.kind == "choice":
            self.fields[spec.name] = forms.CharField(
                max_length=name_chars,
                widget=forms.TextInput(attrs={"list": f"vocab-{spec.name}"}),
                **common,
            )
        elif spec.kind == "multi":
            self.fields[spec.name] = forms.MultipleChoiceField(
                choices=[(value, value) for value in spec.vocabulary],
                widget=forms.CheckboxSelectMultiple(attrs={"class": "vocab"}),
                **{**common, "required": False},
            )
            self.fields[f"{spec.name}_other"] = forms.CharField(
                label=f"{label}: others, one per line",
                required=False,
                widget=forms.Textarea(attrs={"rows": 1}),
            )
        elif spec.kind == "list":
            self.fields[spec.name] = forms.CharField(
                widget=forms.Textarea(attrs={"rows": 2}), **common
            )
        elif spec.kind == "timestamp":
            self.fields[spec.name] = forms.DateTimeField(
                widget=forms.DateTimeInput(attrs={"type": "datetime-local", "step": "1"}),
                **common,
            )
        elif spec.kind == "int":
            bounds = {"min_value": 0, "max_value": 100} if spec.name == "confidence" else {}
            bounds = bounds or {"min_value": 0, "max_value": 999_999_999}
            self.fields[spec.name] = forms.IntegerField(**bounds, **common)
        elif spec.kind == "float":
            self.fields[spec.name] = forms.FloatField(**common)
        elif spec.kind == "bool":
            self.fields[spec.name] = forms.BooleanField(**{**common, "required": False})
        elif spec.kind in ("ref", "refs"):
            choices = [
                (ref.stix_id, f"{ref.label} ({ref.stix_type})")
                for ref in refs
                if not spec.ref_types or ref.stix_type in spec.ref_types
            ]
            if spec.kind == "ref":
                self.fields[spec.name] = forms.ChoiceField(
                    choices=[("", "—"), *choices],
                    widget=forms.Select(attrs={"data-ref": spec.name}),
                    **common,
                )
            else:
                self.fields[spec.name] = forms.MultipleChoiceField(
                    choices=choices, widget=forms.CheckboxSelectMultiple, **common
                )

    # Field-level checks the STIX validators would report less clearly.

    def clean_pattern(self) -> str:
        pattern = self.cleaned_data["pattern"]
        if self.data.get("pattern_type", "stix") == "stix":
            check = stix.check_pattern(pattern)
            if not check.ok:
                where = f" (at column {check.column})" if check.column is not None else ""
                raise forms.ValidationError(f"{check.message}{where}")
        return pattern

    def clean_cve(self) -> str:
        value = self.cleaned_data["cve"].strip().upper()
        if value and not CVE.match(value):
            raise forms.ValidationError("A CVE id looks like CVE-2024-3400.")
        return value

    def clean_attack_technique(self) -> str:
        value = self.cleaned_data["attack_technique"].strip().upper()
        if value and not ATTACK_TECHNIQUE.match(value):
            raise forms.ValidationError("An ATT&CK technique id looks like T1566 or T1566.001.")
        return value

    def clean_kill_chain_phases(self) -> list[dict[str, str]]:
        phases = []
        for line in _lines(self.cleaned_data["kill_chain_phases"]):
            chain, _, phase = line.partition(":")
            if not chain.strip() or not phase.strip():
                raise forms.ValidationError(f"Write {line!r} as kill-chain: phase.")
            phases.append({"kill_chain_name": chain.strip(), "phase_name": phase.strip()})
        return phases

    def clean_external_references(self) -> list[dict[str, str]]:
        references = []
        for line in _lines(self.cleaned_data["external_references"]):
            parts = [part.strip() for part in line.split("|")] + ["", ""]
            source, external_id, url = parts[:3]
            if not source:
                raise forms.ValidationError(f"{line!r} needs a source before the first |.")
            reference = {"source_name": source}
            if external_id:
                reference["external_id"] = external_id
            if url:
                reference["url"] = url
            references.append(reference)
        return references

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if (
            self.stix_type == "relationship"
            and data.get("source_ref")
            and data.get("source_ref") == data.get("target_ref")
        ):
            self.add_error("target_ref", "A relationship needs two different objects.")
        if self.stix_type == "location" and not (
            data.get("region")
            or data.get("country")
            or (data.get("latitude") is not None and data.get("longitude") is not None)
        ):
            raise forms.ValidationError(
                "A location needs a region, a country, or a latitude and a longitude."
            )
        return data


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


# --- Between form data and STIX objects ---------------------------------------------------


def build_object(
    *,
    stix_type: str,
    data: dict[str, Any],
    now: datetime,
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The STIX object the cleaned form `data` describes. With `previous`, a new version of
    it: same id and `created`, `modified` set to `now` (STIX 2.1 section 3.6)."""
    stamp = timestamp(now)
    obj: dict[str, Any] = {
        "type": stix_type,
        "spec_version": "2.1",
        "id": previous["id"] if previous else f"{stix_type}--{uuid.uuid4()}",
        "created": previous["created"] if previous else stamp,
        "modified": stamp,
    }
    for spec in fields_of(stix_type):
        if spec.name in SHORTCUTS:
            continue
        value = _stix_value(spec, data)
        if value not in (None, "", []) or (spec.kind == "bool" and stix_type == "malware"):
            obj[spec.name] = value
    references = list(data.get("external_references") or [])
    if data.get("cve"):
        references.insert(0, {"source_name": "cve", "external_id": data["cve"]})
    if data.get("attack_technique"):
        domain = "mitre-ics-attack" if data.get("attack_domain") == "ics" else "mitre-attack"
        technique = data["attack_technique"]
        references.insert(
            0,
            {
                "source_name": domain,
                "external_id": technique,
                "url": "https://attack.mitre.org/techniques/" + technique.replace(".", "/"),
            },
        )
    if references:
        obj["external_references"] = references
    if previous:
        # Properties the form does not show (set by another tool) travel on unchanged.
        shown = {spec.name for spec in fields_of(stix_type)}
        for key, value in previous.items():
            if key not in obj and key not in shown and key not in ("revoked",):
                obj[key] = value
    return obj


def _stix_value(spec: Field, data: dict[str, Any]) -> Any:
    value = data.get(spec.name)
    if spec.kind == "multi":
        return [*(value or []), *_lines(data.get(f"{spec.name}_other", ""))]
    if spec.kind == "list" and spec.name not in ("kill_chain_phases", "external_references"):
        return _lines(value or "")
    if spec.kind == "timestamp":
        return timestamp(value) if value else None
    if spec.kind in ("text", "textarea", "choice"):
        return value or None
    return value


def initial_from(obj: dict[str, Any]) -> dict[str, Any]:
    """Form initial values showing `obj` (for editing it or writing its next version)."""
    initial: dict[str, Any] = {}
    for spec in fields_of(obj["type"]):
        value = obj.get(spec.name)
        if spec.kind == "multi":
            values = list(value or [])
            initial[spec.name] = [v for v in values if v in spec.vocabulary]
            initial[f"{spec.name}_other"] = "\n".join(v for v in values if v not in spec.vocabulary)
        elif spec.name == "kill_chain_phases":
            initial[spec.name] = "\n".join(
                f"{p.get('kill_chain_name')}: {p.get('phase_name')}" for p in value or []
            )
        elif spec.name == "external_references":
            initial[spec.name] = "\n".join(
                " | ".join([r.get("source_name", ""), r.get("external_id", ""), r.get("url", "")])
                for r in value or []
            )
        elif spec.kind == "list":
            initial[spec.name] = "\n".join(value or [])
        elif spec.kind == "timestamp" and value:
            initial[spec.name] = datetime.fromisoformat(value).strftime("%Y-%m-%dT%H:%M:%S")
        elif value is not None:
            initial[spec.name] = value
    return initial


def display_name(obj: dict[str, Any]) -> str:
    """A short human name for lists and the graph."""
    if obj.get("type") == "relationship":
        return str(obj.get("relationship_type", "relationship"))
    for key in ("name", "abstract", "value", "pattern"):
        if obj.get(key):
            return str(obj[key])[:120]
    return str(obj.get("id", ""))
