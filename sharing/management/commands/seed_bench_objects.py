"""Fill the database with many delivered STIX objects, for the page benchmark (bench/pages.py).

Creates two organisations, "Bench Publisher" and "Bench Reader", a reader login
`bench-reader@bench.example`, and publications of ten objects each (four indicators of distinct
IPv4 addresses, two malware families, four `indicates` relationships), delivered to both
organisations, spread over the last 90 days, with their search indexes. The objects are not
sealed: each carries a stand-in receipt of the right shape (random hashes, marked
`"bench": true`) so the pages render what they render for real deliveries. Never run it on a
portal people use.
"""

import ipaddress
import random
import uuid
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from portal import services as portal_services
from portal.models import Organisation, Role, User
from sharing.models import Delivery, Publication, PublishedObject, VerificationState
from sharing.services.indexing import index_objects

PER_PUBLICATION = 10
BATCH_PUBLICATIONS = 500
FIRST_ADDRESS = int(ipaddress.IPv4Address("10.0.0.1"))
READER_EMAIL = "bench-reader@bench.example"
WORDS = "substation grid scada relay breaker turbine inverter feeder telemetry historian".split()
FAMILIES = "GridRAT Industroyer PipeDream BlackEnergy Triton VPNFilter".split()


def bench_address(number: int) -> str:
    """The IPv4 address of the number-th seeded indicator (bench/pages.py searches these)."""
    return str(ipaddress.IPv4Address(FIRST_ADDRESS + number))


class Command(BaseCommand):
    help = "Seed many delivered STIX objects for the page benchmark (never on a real portal)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--objects", type=int, default=100_000)

    def handle(self, *args, objects: int, **options) -> None:
        if objects < PER_PUBLICATION:
            raise CommandError(f"--objects must be at least {PER_PUBLICATION}")
        publisher = self._organisation("Bench Publisher")
        reader_org = self._organisation("Bench Reader")
        reader = User.objects.filter(email=READER_EMAIL).first()
        if reader is None:
            # No password: the benchmark opens its session directly (bench/pages.py).
            reader = portal_services.create_member(
                organisation=reader_org, email=READER_EMAIL, role=Role.READER, password=None
            )
        already = PublishedObject.objects.filter(publication__organisation=publisher).count()
        publications = (objects - already) // PER_PUBLICATION
        rng = random.Random(already)
        now = timezone.now()
        done = 0
        while done < publications:
            count = min(BATCH_PUBLICATIONS, publications - done)
            first_indicator = (already // PER_PUBLICATION + done) * 4
            self._batch(publisher, reader_org, count, first_indicator, rng, now)
            done += count
            self.stdout.write(f"{already + done * PER_PUBLICATION} objects")
        self.stdout.write(self.style.SUCCESS(f"Seeded; log in as {READER_EMAIL}."))

    def _organisation(self, name: str) -> Organisation:
        found = Organisation.objects.filter(name=name).first()
        return found or portal_services.create_organisation(name=name, sector="other")

    @transaction.atomic
    def _batch(self, publisher, reader_org, count, first_indicator, rng, now) -> None:
        made = Publication.objects.bulk_create(
            Publication(
                organisation=publisher,
                title=f"Bench campaign {first_indicator // 4 + n}",
                distribution="community",
                tlp=rng.choice(["clear", "green", "amber"]),
                state="delivered",
                created_at=now - timedelta(minutes=rng.randrange(90 * 24 * 60)),
                delivered_at=now,
            )
            for n in range(count)
        )
        rows = []
        for n, publication in enumerate(made):
            rows.extend(
                PublishedObject(
                    publication=publication,
                    stix_id=body["id"],
                    stix_type=body["type"],
                    version=body["modified"],
                    body=body,
                    receipt=_stand_in_receipt(rng),
                )
                for body in _objects(first_indicator + 4 * n, rng)
            )
        index_objects(PublishedObject.objects.bulk_create(rows, batch_size=2000))
        Delivery.objects.bulk_create(
            Delivery(
                publication=publication,
                organisation=organisation,
                verification=VerificationState.VERIFIED,
                verified_at=now,
            )
            for publication in made
            for organisation in (publisher, reader_org)
        )


def _objects(first_indicator: int, rng: random.Random) -> list[dict]:
    stamp = "2026-01-01T00:00:00.000Z"
    common = {"spec_version": "2.1", "created": stamp, "modified": stamp}
    families = [
        {
            **common,
            "type": "malware",
            "id": f"malware--{uuid.UUID(int=rng.getrandbits(128), version=4)}",
            "name": f"{rng.choice(FAMILIES)} variant {rng.randrange(1000)}",
            "description": " ".join(rng.choices(WORDS, k=12)),
            "is_family": True,
        }
        for _ in range(2)
    ]
    indicators, relationships = [], []
    for k in range(4):
        address = bench_address(first_indicator + k)
        indicator = {
            **common,
            "type": "indicator",
            "id": f"indicator--{uuid.UUID(int=rng.getrandbits(128), version=4)}",
            "name": f"C2 server {address}",
            "description": " ".join(rng.choices(WORDS, k=20)),
            "pattern": f"[ipv4-addr:value = '{address}']",
            "pattern_type": "stix",
            "valid_from": stamp,
        }
        indicators.append(indicator)
        relationships.append(
            {
                **common,
                "type": "relationship",
                "id": f"relationship--{uuid.UUID(int=rng.getrandbits(128), version=4)}",
                "relationship_type": "indicates",
                "source_ref": indicator["id"],
                "target_ref": families[k % 2]["id"],
            }
        )
    return indicators + families + relationships


def _stand_in_receipt(rng: random.Random) -> dict:
    def hexes(n: int) -> str:
        return rng.randbytes(n).hex()

    return {
        "type": "cti-portal-receipt",
        "version": 1,
        "bench": True,
        "leaf": hexes(32),
        "signature": {"key_id": "ed25519:" + hexes(16)},
        "log": {"leaf_index": 0, "tree_size": 1, "root": hexes(32)},
        "anchor": {
            "chain_id": 31337,
            "contract": "0x" + hexes(20),
            "transaction_hash": "0x" + hexes(32),
            "block_number": 1,
        },
    }
