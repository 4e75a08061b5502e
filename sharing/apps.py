from django.apps import AppConfig


class SharingConfig(AppConfig):
    name = "sharing"
    verbose_name = "Sharing"

    def ready(self) -> None:
        # The ledger calls back when a checkpoint is confirmed; it knows nothing of sharing.
        from ledger import services as ledger_services
        from portal import context_processors
        from sharing import selectors, tasks

        ledger_services.on_checkpoint_confirmed(tasks.on_checkpoint_confirmed)
        ledger_services.on_checkpoint_reanchored(tasks.on_checkpoint_reanchored)
        # The navigation shows each user's unread deliveries next to Inbox.
        context_processors.on_unread_count(selectors.unread_count)
