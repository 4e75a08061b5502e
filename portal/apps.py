from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Community"

    def ready(self) -> None:
        from portal import schema  # noqa: F401  (registers the OpenAPI auth extension)
        from portal.audit import admin, signals, tasks  # noqa: F401  (audit trail wiring)
