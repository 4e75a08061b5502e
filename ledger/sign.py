"""Client-side signing: seal a STIX bundle with an organisation-held key, without the portal.

    python -m ledger.sign --generate-key KEY.pem          # a new key pair; prints the public key
    python -m ledger.sign BUNDLE.json --private-key KEY.pem --organisation identity--… \\
        [--key-id ed25519:…] [--distribution organisation --tlp amber] > submission.json

For each object the command draws a fresh 32-byte salt, computes the leaf
SHA-256("cti-portal:item:v1" 0x00 || salt || RFC 8785 bytes) and signs the version 2 statement
(organisation, key id, leaf, subject: ledger.signing.statement_bytes) exactly as the portal's
``ledger.services.seal_many`` would, so the portal stores the client's salt and signature and
never signs itself. The subject of an object is ``<id>@<modified, else created, else "">``
(the portal's subject of a published object version). The output is the request body of
``POST /api/publications/`` (docs/api.md, "Client-signed submissions"). The bundle is copied
verbatim: the portal stores signed objects as they are, so they must already carry
``created_by_ref`` (the organisation) and the publication's TLP marking.

No Django here: an organisation runs this on its own machine.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ledger import canonical, signing

SIGNATURES_FORMAT = "cti-portal-signatures"
SIGNATURES_VERSION = 1


class SignError(ValueError):
    """The bundle cannot be signed; ``str()`` says why."""


def subject_of(obj: dict[str, Any]) -> str:
    """``<id>@<version>``: the version is ``modified``, else ``created``, else empty."""
    version = str(obj.get("modified") or obj.get("created") or "")
    return f"{obj['id']}@{version}"[: signing.SUBJECT_CHARS]


def sign_bundle(
    bundle: dict[str, Any], *, private_key: bytes, organisation: str, key_id: str | None = None
) -> dict[str, Any]:
    """The ``signatures`` document for every object of ``bundle``; see the module docstring.

    Raises SignError for a bundle without objects, an object without a string id, a
    ``created_by_ref`` naming someone else, a key id that is not the private key's, or an
    object without an RFC 8785 form.
    """
    if not isinstance(bundle, dict) or bundle.get("type") != "bundle":
        raise SignError('expected a STIX 2.1 bundle: a JSON object with "type": "bundle"')
    objects = bundle.get("objects")
    if not isinstance(objects, list) or not objects:
        raise SignError('the bundle has no "objects" list, or it is empty')
    if not organisation.startswith("identity--"):
        raise SignError("--organisation must be your organisation's STIX identity (identity--…)")
    public_key = signing.public_key_for(private_key)
    actual_key_id = signing.key_id(public_key)
    if key_id is not None and key_id != actual_key_id:
        raise SignError(f"the private key's id is {actual_key_id}, not {key_id}")
    signed = []
    for index, obj in enumerate(objects):
        if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
            raise SignError(f"object {index} is not a JSON object with a string id")
        creator = obj.get("created_by_ref")
        if creator is not None and creator != organisation:
            raise SignError(
                f"{obj['id']}: created_by_ref is {creator}, not {organisation}; the portal "
                f"refuses objects created by someone else"
            )
        try:
            canonical_bytes = canonical.canonicalize(obj)
        except canonical.CanonicalizationError as exc:
            raise SignError(f"{obj['id']}: {exc}") from None
        salt = canonical.new_salt()
        leaf = canonical.item_leaf(salt, canonical_bytes)
        subject = subject_of(obj)
        signature = signing.sign_statement(
            private_key, organisation=organisation, key_id=actual_key_id, leaf=leaf, subject=subject
        )
        signed.append(
            {
                "id": obj["id"],
                "subject": subject,
                "salt": salt.hex(),
                "leaf": leaf.hex(),
                "signature": signature.hex(),
            }
        )
    return {
        "format": SIGNATURES_FORMAT,
        "version": SIGNATURES_VERSION,
        "organisation": organisation,
        "key_id": actual_key_id,
        "objects": signed,
    }


def generate_key_file(path: Path) -> tuple[str, str]:
    """Write a new Ed25519 private key to ``path`` (PKCS#8 PEM, mode 0600; refuses to
    overwrite) and its public key to ``path`` + ".pub"; return (key id, public key hex)."""
    private_key, public_key = signing.generate_keypair()
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise SignError(f"{path} exists; choose another file name") from None
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(signing.private_key_pem(private_key))
    Path(f"{path}.pub").write_bytes(signing.public_key_pem(public_key))
    return signing.key_id(public_key), public_key.hex()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.generate_key:
            key_id, public_hex = generate_key_file(Path(args.generate_key))
            print(f"private key written to {args.generate_key} (keep it secret)", file=sys.stderr)
            print(f"public key written to {args.generate_key}.pub", file=sys.stderr)
            print(json.dumps({"key_id": key_id, "public_key": public_hex}, indent=2))
            return 0
        if not (args.bundle and args.private_key and args.organisation):
            raise SignError(
                "give BUNDLE.json, --private-key and --organisation (or --generate-key)"
            )
        private_key = signing.private_key_from_pem(Path(args.private_key).read_bytes())
        bundle = json.loads(Path(args.bundle).read_bytes())
        submission: dict[str, Any] = {
            "bundle": bundle,
            "signatures": sign_bundle(
                bundle, private_key=private_key, organisation=args.organisation, key_id=args.key_id
            ),
        }
        if args.distribution:
            submission["distribution"] = args.distribution
        if args.tlp:
            submission["tlp"] = args.tlp
        if args.trust_group:
            submission["trust_groups"] = args.trust_group
    except (SignError, signing.KeyFormatError, OSError, json.JSONDecodeError) as exc:
        print(f"ledger.sign: {exc}", file=sys.stderr)
        return 2
    json.dump(submission, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ledger.sign",
        description="Sign a STIX bundle client-side with an organisation-held Ed25519 key.",
    )
    parser.add_argument("bundle", nargs="?", help="the STIX 2.1 bundle (JSON file)")
    parser.add_argument("--private-key", help="PKCS#8 PEM Ed25519 private key file")
    parser.add_argument("--organisation", help="your organisation's STIX identity (identity--…)")
    parser.add_argument("--key-id", help="the registered key id; checked against the private key")
    parser.add_argument("--distribution", help="copied into the submission (publish API field)")
    parser.add_argument("--tlp", help="copied into the submission (publish API field)")
    parser.add_argument("--trust-group", type=int, action="append", help="trust group id")
    parser.add_argument(
        "--generate-key", metavar="KEY.pem", help="write a new key pair and print its public key"
    )
    return parser


if __name__ == "__main__":
    sys.exit(main())
