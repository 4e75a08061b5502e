"""Reads of community membership that the sharing side relies on (one place, one meaning)."""

from django.db.models import QuerySet

from portal.models import Organisation, TrustGroup


def trust_groups_of(*, organisation: Organisation) -> QuerySet[TrustGroup]:
    """The trust groups the organisation belongs to."""
    return TrustGroup.objects.filter(members=organisation)


def organisations_in_trust_groups(*, group_ids: list[int]) -> QuerySet[Organisation]:
    """Every organisation that belongs to at least one of these groups."""
    return Organisation.objects.filter(trust_groups__id__in=group_ids).distinct()


def all_organisations() -> QuerySet[Organisation]:
    return Organisation.objects.all()
