from django.apps import AppConfig


class SharingConfig(AppConfig):
    name = "sharing"
    verbose_name = "Sharing"

    def ready(self) -> None:
        # The ledger calls back when a checkpoint is confirmed; it knows nothing of sharing.
        from ledger import services as ledger_services
        from sharing import tasks

        ledger_services.on_checkpoint_confirmed(tasks.on_checkpoint_confirmed)
        ledger_services.on_checkpoint_reanchored(tasks.on_checkpoint_reanchored)
