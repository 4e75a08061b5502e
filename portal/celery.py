"""The Celery application: configuration comes from Django settings prefixed `CELERY_`."""

import logging
import os

from celery import Celery
from django.db import transaction

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

logger = logging.getLogger(__name__)


def fire(task, *args) -> bool:
    """Queue `task(*args)` now; a broker that cannot take it is logged, not raised.

    Every pipeline stage is a row with a state and the sweeper re-drives what no task came
    for, so a trigger lost to a broker outage only delays work. Raising instead would turn an
    already-committed write (a publication, say) into a 500 that clients retry.
    """
    try:
        task.delay(*args)
    except Exception:  # noqa: BLE001 - any broker failure: the sweeper will catch up
        logger.warning("could not queue %s%s; the sweeper will", task.name, args, exc_info=True)
        return False
    return True


def fire_on_commit(task, *args) -> None:
    """`fire(task, *args)` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: fire(task, *args))
