"""Coalesced triggers: one queued run per stage, a new one once the queued run has started,
and a broker outage never fails the caller."""

from unittest import mock

import pytest

from portal.celery import fire, fire_once, started
from sharing import tasks


@pytest.fixture(autouse=True)
def no_queued_marks():
    """Marks live in the cache, which outlives a test that touches no database."""
    for task in (tasks.seal_received, tasks.deliver_anchored, tasks.verify_deliveries):
        started(task)


def test_a_burst_queues_one_run_until_it_starts():
    with mock.patch.object(tasks.seal_received, "delay") as delay:
        assert fire_once(tasks.seal_received)
        assert not fire_once(tasks.seal_received)
        assert not fire_once(tasks.seal_received)
        assert delay.call_count == 1
        started(tasks.seal_received)  # the run begins: later rows need a new run
        assert fire_once(tasks.seal_received)
        assert delay.call_count == 2


def test_stages_are_coalesced_separately():
    with (
        mock.patch.object(tasks.seal_received, "delay") as seal,
        mock.patch.object(tasks.deliver_anchored, "delay") as deliver,
    ):
        assert fire_once(tasks.seal_received) and fire_once(tasks.deliver_anchored)
    assert seal.call_count == deliver.call_count == 1


def test_a_broker_outage_is_logged_not_raised_and_leaves_no_mark(caplog):
    with mock.patch.object(tasks.seal_received, "delay", side_effect=ConnectionError("down")):
        assert fire(tasks.seal_received) is False
        assert fire_once(tasks.seal_received) is False
    assert "the sweeper will" in caplog.text
    with mock.patch.object(tasks.seal_received, "delay") as delay:
        assert fire_once(tasks.seal_received)  # the failed attempt did not block this one
    delay.assert_called_once_with()


@pytest.mark.django_db
def test_the_seal_task_clears_its_mark_before_claiming(trust_group, publisher):
    from tests.sharing.test_pipeline import publish

    with mock.patch.object(tasks.seal_received, "delay"):
        fire_once(tasks.seal_received)
        publish(publisher)
        with mock.patch.object(tasks.ledger_tasks.anchor, "delay") as anchor:
            assert tasks.seal_received() == 1
        anchor.assert_called_once_with()
        assert fire_once(tasks.seal_received)
