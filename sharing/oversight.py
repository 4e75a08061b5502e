"""The platform admins' read-only overview of the pipeline: where publications are, what is
stuck, the latest checkpoints and the webhook messages that fail."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from ledger.models import Checkpoint
from portal import permissions
from sharing.models import (
    Publication,
    PublicationState,
    WebhookMessage,
    WebhookMessageState,
)

LATEST = 10


@dataclass
class PipelineOverview:
    by_state: list[tuple[str, int]]
    stuck: QuerySet[Publication]
    stuck_after: timedelta
    checkpoints: QuerySet[Checkpoint]
    failing_webhooks: QuerySet[WebhookMessage]


def pipeline_overview(*, now: datetime) -> PipelineOverview:
    """Counts per state, and the rows an operator should look at; a fixed number of queries."""
    counts = dict(
        Publication.objects.values_list("state").annotate(n=Count("id")).order_by("state")
    )
    stuck_after = timedelta(seconds=settings.SWEEP_STUCK_AFTER_SECONDS)
    stuck = (
        Publication.objects.exclude(state=PublicationState.DELIVERED)
        .filter(state_changed_at__lt=now - stuck_after)
        .select_related("organisation")
        .order_by("state_changed_at")[:LATEST]
    )
    failing = (
        WebhookMessage.objects.filter(attempts__gt=0)
        .exclude(state=WebhookMessageState.SUCCEEDED)
        .select_related("endpoint", "endpoint__organisation", "publication")
        .order_by("-next_attempt_at")[:LATEST]
    )
    return PipelineOverview(
        by_state=[(label, counts.get(value, 0)) for value, label in PublicationState.choices],
        stuck=stuck,
        stuck_after=stuck_after,
        checkpoints=Checkpoint.objects.order_by("-created_at")[:LATEST],
        failing_webhooks=failing,
    )


@login_required
def pipeline_overview_page(request: HttpRequest) -> HttpResponse:
    permissions.require_platform_admin(request.user)
    overview = pipeline_overview(now=timezone.now())
    return render(request, "sharing/pipeline_overview.html", {"overview": overview})
