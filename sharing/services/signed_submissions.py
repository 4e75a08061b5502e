"""Client-signed submissions: objects the organisation signed itself (``python -m ledger.sign``).

The submission's ``signatures`` document (docs/api.md, "Client-signed submissions") names the
organisation and an organisation-held key, and carries for every object its salt and the
Ed25519 signature over the version 2 statement of its leaf. Everything is checked before
anything is stored; one problem refuses the whole submission. The objects are stored verbatim
(stamping provenance would change the signed bytes), so they must already carry the
publishing organisation's identity in ``created_by_ref`` and the publication's TLP marking.
"""

import re
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from ledger import canonical, signing
from ledger import keys as ledger_keys
from ledger.models import Custody, SigningKey
from ledger.sign import SIGNATURES_FORMAT, SIGNATURES_VERSION, subject_of
from portal.models import Organisation
from sharing import stix
from sharing.services import provenance
from sharing.stix import BundleError

_HEX = re.compile(r"[0-9a-f]*")


@dataclass(frozen=True)
class ClientSignature:
    key: SigningKey
    salt: bytes
    signature: bytes


def check_submission(
    *, organisation: Organisation, objects: list[dict[str, Any]], signatures: Any, tlp: str
) -> list[ClientSignature]:
    """The client signature of each object, in the order of ``objects``.

    Raises BundleError listing every problem: a malformed document, an organisation other than
    the publisher's, a key that is unknown, of another organisation, portal-held, revoked or
    outside its window, an object without a signature (or a signature without an object), a
    signature that does not verify, a ``created_by_ref`` that is not the publisher's identity,
    or a missing TLP marking.
    """
    identity = organisation.stix_identity_id
    if not isinstance(signatures, dict):
        raise BundleError(["signatures must be a JSON object (see docs/api.md)"])
    if (
        signatures.get("format") != SIGNATURES_FORMAT
        or signatures.get("version") != SIGNATURES_VERSION
    ):
        raise BundleError(
            [f'signatures must have "format": "{SIGNATURES_FORMAT}" and "version": 1']
        )
    if signatures.get("organisation") != identity:
        raise BundleError(
            [
                f"the objects were signed for {str(signatures.get('organisation'))[:100]}, but "
                f"you publish as {identity}"
            ]
        )
    key = _usable_key(identity, signatures.get("key_id"))
    entries = signatures.get("objects")
    if not isinstance(entries, list):
        raise BundleError(["signatures.objects must be a list"])
    errors = _provenance_errors(objects, identity=identity, tlp=tlp)
    by_subject: dict[str, dict[str, Any]] = {}
    for position, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("subject"), str):
            errors.append(f"signatures.objects[{position}] must be an object with a subject")
            continue
        if entry["subject"] in by_subject:
            errors.append(f"{entry['subject'][:200]} is signed twice")
        by_subject[entry["subject"]] = entry
    result = []
    for obj in objects:
        subject = subject_of(obj)  # the rule the client's signer followed
        entry = by_subject.pop(subject, None)
        if entry is None:
            errors.append(f"{subject} has no signature")
            continue
        salt = _hex(entry.get("salt"), canonical.SALT_BYTES)
        signature = _hex(entry.get("signature"), signing.SIGNATURE_BYTES)
        if salt is None or signature is None:
            errors.append(
                f"{subject}: salt must be {canonical.SALT_BYTES} bytes and signature "
                f"{signing.SIGNATURE_BYTES} bytes, in lower-case hex"
            )
            continue
        leaf = canonical.item_leaf(salt, canonical.canonicalize(obj))
        statement = signing.statement_bytes(
            organisation=identity, key_id=key.key_id, leaf=leaf, subject=subject
        )
        if not signing.verify_statement(bytes(key.public_key), statement, signature):
            errors.append(
                f"{subject}: the signature does not verify under key {key.key_id} (was the "
                f"object changed after signing?)"
            )
            continue
        result.append(ClientSignature(key=key, salt=salt, signature=signature))
    errors += [f"{subject[:200]} is signed but not in the bundle" for subject in by_subject]
    if errors:
        raise BundleError(errors[: stix.MAX_ERRORS])
    return result


def _usable_key(identity: str, key_id: Any) -> SigningKey:
    if not isinstance(key_id, str) or not key_id:
        raise BundleError(["signatures.key_id is missing"])
    key = SigningKey.objects.filter(key_id=key_id).first()
    if key is None:
        raise BundleError(
            [f"key {key_id[:80]} is not registered: register it under Signing keys first"]
        )
    if key.owner != identity:
        raise BundleError([f"key {key_id} is a key of another organisation, not of {identity}"])
    if key.custody != Custody.ORGANISATION:
        raise BundleError(
            [f"key {key_id} is portal-held; client-side signatures need an organisation-held key"]
        )
    now = timezone.now()
    if key.revoked_at is not None and key.revoked_at <= now:
        raise BundleError([f"key {key_id} was revoked at {key.revoked_at:%Y-%m-%d %H:%M:%S} UTC"])
    if not ledger_keys.usable_organisation_keys(owner=identity, at=now).filter(pk=key.pk).exists():
        raise BundleError([f"key {key_id} is not valid now (outside its validity window)"])
    return key


def _provenance_errors(objects: list[dict[str, Any]], *, identity: str, tlp: str) -> list[str]:
    """Signed objects are stored as they are: they must already say who created them and
    carry the publication's TLP 2.0 marking (STIX 2.1 section 7.2; DESIGN.md, provenance)."""
    errors = []
    marking = stix.TLP2_MARKING_ID.get(tlp)
    for obj in objects:
        if provenance.is_versioned(obj) and obj.get("created_by_ref") != identity:
            errors.append(
                f"{obj['id']}: created_by_ref must be your organisation's identity {identity} "
                f"(signed objects are stored as signed, so the portal cannot set it)"
            )
        if obj.get("type") == "marking-definition" or marking is None:
            continue
        refs = obj.get("object_marking_refs") or []
        other_tlp = [ref for ref in refs if ref in stix.TLP_MARKING_IDS and ref != marking]
        if marking not in refs or other_tlp:
            errors.append(
                f"{obj['id']}: object_marking_refs must hold the publication's TLP marking "
                f"{marking} and no other TLP marking"
            )
    return errors


def _hex(value: Any, length: int) -> bytes | None:
    if not isinstance(value, str) or len(value) != 2 * length or not _HEX.fullmatch(value):
        return None
    return bytes.fromhex(value)
