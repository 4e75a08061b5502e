"""The graph of a publication's objects, laid out for an SVG drawn on the server.

Nodes are the objects, edges their relationships (relationship objects and sightings) and
their other references (a report's `object_refs`...). Nodes sit on a circle, which is
deterministic, needs no script and reads well for the tens of objects a publication holds.
No database: this takes the objects' JSON.
"""

import math
from dataclasses import dataclass
from typing import Any

from sharing import observables, rendering

MAX_NODES = 60
SIZE = 640
RADIUS = 250
LABEL_LENGTH = 28
# Not drawn: every object points at its creator and markings.
SKIPPED_REFERENCES = ("created_by_ref", "object_marking_refs")


@dataclass(frozen=True)
class Node:
    stix_id: str
    object_id: int
    stix_type: str
    label: str
    x: float
    y: float


@dataclass(frozen=True)
class Edge:
    x1: float
    y1: float
    x2: float
    y2: float
    label: str
    kind: str  # "relationship" (an SRO) or "reference" (a *_ref property)

    @property
    def mid_x(self) -> float:
        return (self.x1 + self.x2) / 2

    @property
    def mid_y(self) -> float:
        return (self.y1 + self.y2) / 2


@dataclass(frozen=True)
class Graph:
    nodes: list[Node]
    edges: list[Edge]
    size: int = SIZE
    too_large: bool = False


def layout(objects: list[tuple[int, dict[str, Any]]]) -> Graph:
    """The graph of (object id, STIX JSON) pairs; relationships and sightings become edges,
    not nodes. Above MAX_NODES nodes only `too_large` is set."""
    drawn = [(oid, body) for oid, body in objects if body.get("type") != "relationship"]
    if len(drawn) > MAX_NODES:
        return Graph(nodes=[], edges=[], too_large=True)
    centre = SIZE / 2
    nodes: dict[str, Node] = {}
    for position, (object_id, body) in enumerate(drawn):
        angle = 2 * math.pi * position / max(len(drawn), 1) - math.pi / 2
        radius = RADIUS if len(drawn) > 1 else 0
        label = rendering.title(body)
        nodes.setdefault(
            str(body.get("id")),
            Node(
                stix_id=str(body.get("id")),
                object_id=object_id,
                stix_type=str(body.get("type")),
                label=label if len(label) <= LABEL_LENGTH else label[: LABEL_LENGTH - 1] + "…",
                x=round(centre + radius * math.cos(angle), 1),
                y=round(centre + radius * math.sin(angle), 1),
            ),
        )
    edges = []
    for _, body in objects:
        if body.get("type") == "relationship":
            pairs = [
                (body.get("source_ref"), body.get("target_ref"), body.get("relationship_type"))
            ]
            kind = "relationship"
        else:
            pairs = [
                (body.get("id"), target, name.removesuffix("_refs").removesuffix("_ref"))
                for name, target in observables.references(body)
                if name not in SKIPPED_REFERENCES
            ]
            kind = "relationship" if body.get("type") == "sighting" else "reference"
        for source, target, label in pairs:
            start, end = nodes.get(str(source)), nodes.get(str(target))
            if start and end and start is not end:
                edges.append(Edge(start.x, start.y, end.x, end.y, str(label or ""), kind))
    return Graph(nodes=list(nodes.values()), edges=edges)
