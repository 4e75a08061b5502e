"""Seed a TAXII collection for benchmarks: `--objects N` indicators published to the community
by the organisation "TAXII Bench", as if the pipeline had delivered them.

The rows skip sealing and anchoring (no ledger entry, no receipt): they exist to measure
reading, not the pipeline. Run it again to grow the collection; each run prints a read and a
publish token of the bench organisation. PostgreSQL only (it loads objects with COPY).
"""

import json
import uuid
from datetime import UTC, datetime, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from portal import services
from portal.models import Organisation, Role, TokenScope, User
from sharing.models import Delivery, Distribution, Publication, PublicationState

ORGANISATION = "TAXII Bench"
PUBLISHER = "publisher@taxii-bench.example"
# Seeded publications are spread over the past, one second apart, so live ones come after.
START = datetime(2020, 1, 1, tzinfo=UTC)


def indicator(number: int) -> dict:
    moment = (START + timedelta(seconds=number)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid4()}",
        "created": moment,
        "modified": moment,
        "name": f"Bench indicator {number}",
        "description": "Seeded for the TAXII benchmark: a C2 address seen against a substation.",
        "indicator_types": ["malicious-activity"],
        "pattern": f"[ipv4-addr:value = '198.51.{number // 256 % 256}.{number % 256}']",
        "pattern_type": "stix",
        "valid_from": moment,
    }


class Command(BaseCommand):
    help = "Add N delivered indicators to the community collection of the TAXII bench."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--objects", type=int, required=True)
        parser.add_argument("--per-publication", type=int, default=100)

    def handle(self, *args, objects: int, per_publication: int, **options) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("seed_taxii needs PostgreSQL (DATABASE_URL=postgres://...).")
        organisation, user = self._bench_organisation()
        already = Publication.objects.filter(organisation=organisation).count()
        done = 0
        while done < objects:
            batch = min(objects - done, per_publication * 100)
            self._seed(organisation, user, already, batch, per_publication)
            already += (batch + per_publication - 1) // per_publication
            done += batch
            self.stdout.write(f"seeded {done}/{objects}")
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE sharing_publication")
            cursor.execute("ANALYZE sharing_publishedobject")
            cursor.execute("ANALYZE sharing_delivery")
        for scope in (TokenScope.READ, TokenScope.PUBLISH):
            # A benchmark's own account: no person holds it, so it has no second factor.
            _, raw = services.create_api_token(
                user=user, name=f"bench {scope}", scope=scope, dangerously_skip_second_factor=True
            )
            self.stdout.write(f"{scope} token: {raw}")

    def _bench_organisation(self) -> tuple[Organisation, User]:
        organisation = Organisation.objects.filter(name=ORGANISATION).first()
        if organisation is None:
            organisation = services.create_organisation(name=ORGANISATION, sector="other")
        user = User.objects.filter(email=PUBLISHER).first()
        if user is None:
            user = services.create_member(
                organisation=organisation, email=PUBLISHER, role=Role.PUBLISHER, password=None
            )
        return organisation, user

    @transaction.atomic
    def _seed(self, organisation, user, first: int, count: int, per_publication: int) -> None:
        sizes = [min(per_publication, count - i) for i in range(0, count, per_publication)]
        now = timezone.now()
        publications = Publication.objects.bulk_create(
            [
                Publication(
                    organisation=organisation,
                    author=user,
                    title=f"Bench publication {first + n}",
                    distribution=Distribution.COMMUNITY,
                    tlp="clear",
                    state=PublicationState.DELIVERED,
                    created_at=now,
                    state_changed_at=now,
                    delivered_at=START + timedelta(seconds=first + n),
                )
                for n in range(len(sizes))
            ]
        )
        Delivery.objects.bulk_create(
            [
                Delivery(publication=p, organisation=organisation, verification="verified")
                for p in publications
            ]
        )
        number = first * per_publication
        with connection.cursor() as cursor:
            columns = "publication_id, stix_id, stix_type, version, body"
            with cursor.cursor.copy(f"COPY sharing_publishedobject ({columns}) FROM STDIN") as copy:
                for publication, size in zip(publications, sizes, strict=True):
                    for _ in range(size):
                        obj = indicator(number)
                        number += 1
                        copy.write_row(
                            (
                                publication.id,
                                obj["id"],
                                "indicator",
                                obj["modified"],
                                json.dumps(obj),
                            )
                        )
