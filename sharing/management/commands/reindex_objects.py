"""Rebuild the search indexes (observable values, references) of every stored object."""

from django.core.management.base import BaseCommand

from sharing.services.indexing import reindex_all


class Command(BaseCommand):
    help = "Rebuild the observable-value and reference indexes of every stored STIX object."

    def handle(self, *args, **options) -> None:
        count = reindex_all()
        self.stdout.write(f"Indexed {count} objects.")
