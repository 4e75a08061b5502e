"""What the TAXII server stores besides the publications themselves: the status of each
envelope POSTed to a collection, and which object versions were deleted from the collections."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from portal.models import Organisation


class TaxiiStatus(models.Model):
    """One envelope POSTed to a collection (TAXII 2.1 section 4.3, the status resource).

    An accepted envelope became `publication`; its counts are read live from the pipeline.
    A refused one has no publication and lists every object with the reason in `failures`.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    publication = models.OneToOneField(
        "sharing.Publication",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="taxii_status",
    )
    collection_id = models.UUIDField()
    request_timestamp = models.DateTimeField(default=timezone.now)
    total_count = models.PositiveIntegerField()
    failures = models.JSONField(default=list, blank=True)

    class Meta:
        app_label = "sharing"
        ordering = ["-request_timestamp"]


class TaxiiDeletion(models.Model):
    """An object version its publisher deleted through TAXII (section 5.7): it no longer
    appears in any collection. Its ledger entry and receipt stay, and copies already delivered
    to inboxes are not recalled."""

    published_object = models.OneToOneField(
        "sharing.PublishedObject", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    deleted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "sharing"
