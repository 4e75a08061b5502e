"""The inbox: a publication delivered to an organisation is a `Delivery` row."""

from sharing.models import Delivery
from sharing.transports.base import Transport


class InboxTransport(Transport):
    """Stores inbox entries. The row is the delivery and its own attempt record; an entry that
    already exists is left as it is (deliveries are idempotent)."""

    kind = "inbox"

    def send(self, item: Delivery) -> None:
        self.send_many([item])

    def send_many(self, items: list[Delivery]) -> None:
        Delivery.objects.bulk_create(items, ignore_conflicts=True, batch_size=1000)
