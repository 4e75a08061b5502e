"""How long the shared validation of a bundle takes (validators, pattern types, size limits,
canonical form, then provenance stamping), by bundle size, and how fast an oversized bundle is
refused. In-process, no web server or database: this is the CPU each publish request spends
before anything is stored, whether it comes from a form, an upload or the API.

    .venv/bin/python bench/validation.py [--sizes 1 100 1000 5000] [--repeat 3]
"""

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
os.environ.setdefault("PORTAL_ENV", "development")

import django  # noqa: E402

django.setup()

from sharing import stix  # noqa: E402
from sharing.services import provenance  # noqa: E402

TIMESTAMP = "2026-11-20T08:30:00.000Z"


class Organisation:
    stix_identity_id = f"identity--{uuid.uuid4()}"


def indicator(number: int) -> dict:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid4()}",
        "created": TIMESTAMP,
        "modified": TIMESTAMP,
        "name": f"C2 server {number}",
        "description": "Seen beaconing from substation gateways. " * 20,
        "pattern": f"[ipv4-addr:value = '198.51.{number // 256 % 256}.{number % 256}']",
        "pattern_type": "stix",
        "valid_from": TIMESTAMP,
    }


def bundle(objects: list[dict]) -> dict:
    return {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects}


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 100, 1000, 5000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    limits = provenance.limits()

    print(f"{'objects':>8} {'median s':>9} {'ms/object':>10}")
    for size in args.sizes:
        document = bundle([indicator(n) for n in range(size)])

        def run(document: dict = document) -> None:
            parsed = stix.parse_bundle(document, limits=limits)
            provenance.stamp(parsed.objects, organisation=Organisation(), tlp="amber")

        median = statistics.median(timed(run) for _ in range(args.repeat))
        print(f"{size:>8} {median:>9.3f} {median * 1000 / size:>10.2f}")

    huge = bundle([{**indicator(0), "name": "x" * 200_000}])
    many = bundle([indicator(n) for n in range(limits.objects + 1)])
    for label, document in (("200,000-character name", huge), ("one object too many", many)):
        start = time.perf_counter()
        try:
            stix.parse_bundle(document, limits=limits)
        except stix.BundleError:
            seconds = time.perf_counter() - start
        else:
            raise SystemExit(f"the bundle with a {label} was accepted")
        print(f"refusing a bundle with a {label}: {seconds * 1000:.1f} ms")


if __name__ == "__main__":
    main()
