"""The Celery application: configuration comes from Django settings prefixed `CELERY_`."""

import logging
import os

from celery import Celery
from django.db import transaction

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# A task declared with `worker_pool="webhooks"` runs on the webhook queue, served by its own workers
# (`celery -A portal worker -Q <queue>.webhooks`): POSTs to receivers, whose speed the portal
# does not control, never take a process the pipeline stages need.
WEBHOOK_POOL = "webhooks"


def webhook_queue() -> str:
    """The queue of webhook sends: CELERY_WEBHOOK_QUEUE, else "<default queue>.webhooks"."""
    from django.conf import settings

    return settings.CELERY_WEBHOOK_QUEUE or f"{app.conf.task_default_queue}.{WEBHOOK_POOL}"


def route_task(name, args, kwargs, options, task=None, **kw) -> dict[str, str] | None:
    """Celery router: tasks of the webhook pool go to the webhook queue, the rest to the
    default queue. Read at send time, so a changed default queue (tests) is followed."""
    task = task or app.tasks.get(name)
    if getattr(task, "worker_pool", None) == WEBHOOK_POOL:
        return {"queue": webhook_queue()}
    return None


app.conf.task_routes = (route_task,)

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


# Coalescing: under a burst, every publication would queue its own run of a batch stage, and all
# but the first would find nothing left to claim. A stage fired with `fire_once` is queued only
# if no run of it is waiting to start; the run clears the mark (`started`) before it claims its
# rows, so rows committed after that point fire a new run. A run lost before it started leaves
# the mark for at most TRIGGER_MARK_SECONDS; the sweeper covers anything beyond.
TRIGGER_MARK_SECONDS = 5


def fire_once(task) -> bool:
    """`fire(task)` unless a run of it is already queued and not yet started."""
    from django.core.cache import cache

    try:
        if not cache.add(_trigger_key(task), 1, timeout=TRIGGER_MARK_SECONDS):
            return False
    except Exception:  # noqa: BLE001 - no cache: fire anyway
        logger.warning("could not mark %s as queued", task.name, exc_info=True)
    if fire(task):
        return True
    started(task)  # nothing was queued: the next trigger must not be skipped
    return False


def fire_once_on_commit(task) -> None:
    """`fire_once(task)` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: fire_once(task))


def started(task) -> None:
    """Called by a coalesced task before it claims its rows (see fire_once)."""
    from django.core.cache import cache

    try:
        cache.delete(_trigger_key(task))
    except Exception:  # noqa: BLE001 - the mark expires by itself
        logger.warning("could not clear the queued mark of %s", task.name, exc_info=True)


def _trigger_key(task) -> str:
    return f"trigger-queued:{task.name}"
