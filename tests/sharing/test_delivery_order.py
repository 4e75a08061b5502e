"""Deliveries are stamped in commit order, so readers paging by (delivered_at, id) miss none."""

import threading

import pytest
from django.db import connection, connections, transaction

from sharing.models import Distribution, Publication, PublicationState
from sharing.services import pipeline


def _publication(organisation, title: str) -> Publication:
    return Publication.objects.create(
        organisation=organisation,
        title=title,
        distribution=Distribution.COMMUNITY,
        tlp="green",
        state=PublicationState.SEALED,
    )


def _waiting_for_the_order_lock(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks"
            " WHERE locktype = 'advisory' AND NOT granted AND pid = %s",
            [pid],
        )
        return cursor.fetchone()[0] == 1


@pytest.mark.django_db(transaction=True)
def test_a_delivery_stamped_while_another_is_uncommitted_waits_and_stamps_after_it(nordgrid):
    slow, quick = _publication(nordgrid, "slow"), _publication(nordgrid, "quick")
    other_pid: list[int] = []

    def deliver_quick() -> None:
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_backend_pid()")
                    other_pid.append(cursor.fetchone()[0])
                pipeline._stamp_delivered([quick.id])
        finally:
            connections.close_all()

    with transaction.atomic():
        pipeline._stamp_delivered([slow.id])
        other = threading.Thread(target=deliver_quick)
        other.start()
        # The quick delivery must queue behind this uncommitted one instead of stamping first.
        for _ in range(500):
            if other_pid and _waiting_for_the_order_lock(other_pid[0]):
                break
            other.join(0.01)
        assert other.is_alive() and _waiting_for_the_order_lock(other_pid[0])
    other.join(10)
    assert not other.is_alive()

    slow.refresh_from_db()
    quick.refresh_from_db()
    assert slow.state == quick.state == PublicationState.DELIVERED
    assert quick.delivered_at > slow.delivered_at
