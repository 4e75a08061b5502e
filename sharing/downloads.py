"""What readers download: STIX 2.1 bundles, and an object with its receipt for the verifier.

No database: these take stored objects and return bytes.
"""

import io
import json
import uuid
import zipfile
from collections.abc import Iterable
from typing import Any

from ledger.pinning import trust_root_document
from sharing.models import PublishedObject

# A fixed namespace so the same publication always downloads as the same bundle id.
BUNDLE_NAMESPACE = uuid.UUID("5d2d3a4e-8f0b-4c39-9a57-2b8f3f6e1c70")
VERIFY_NOTE = """\
{stix_id} (version {version}), with its receipt.

Check it without trusting the portal that served it:

    python -m ledger.verify {object_file} {receipt_file} \
        --trust-root trust-root.json --rpc-url URL_OF_A_CHAIN_NODE

trust-root.json is the portal's trust root as of this download: the chain, the anchor contract
{contract}, its anchoring accounts and the organisations' signing keys (the publisher's is
{key_id}). Compare it with the one other members hold, or obtain it out of band, before you
rely on it (see docs/receipts.md).
"""


def bundle(objects: Iterable[PublishedObject], *, bundle_id: str = "") -> dict[str, Any]:
    """A STIX 2.1 bundle (section 8) of the objects' stored JSON, byte for byte what was
    sealed. Without `bundle_id` a fresh one is made."""
    return {
        "type": "bundle",
        "id": bundle_id or f"bundle--{uuid.uuid4()}",
        "objects": [obj.body for obj in objects],
    }


def publication_bundle_id(publication_id: int, original: str) -> str:
    """The publication's own bundle id when it had one, else a stable one."""
    if original.startswith("bundle--"):
        return original
    return f"bundle--{uuid.uuid5(BUNDLE_NAMESPACE, f'publication:{publication_id}')}"


def file_stem(stix_id: str, version: str) -> str:
    """A file name for one object version: the id and its version without separators."""
    stamp = "".join(char for char in version if char.isalnum())
    return f"{stix_id}@{stamp}" if stamp else stix_id


def object_with_receipt(obj: PublishedObject) -> bytes:
    """A ZIP holding the object's JSON, its receipt and how to run the verifier on them.

    The object must have its receipt (be anchored).
    """
    if obj.receipt is None:
        raise ValueError(f"{obj.stix_id} has no receipt yet")
    stem = file_stem(obj.stix_id, obj.version)
    object_file, receipt_file = f"{stem}.json", f"{stem}.receipt.json"
    note = VERIFY_NOTE.format(
        stix_id=obj.stix_id,
        version=obj.version or "-",
        object_file=object_file,
        receipt_file=receipt_file,
        key_id=obj.receipt.get("signature", {}).get("key_id", "KEY_ID"),
        contract=obj.receipt.get("anchor", {}).get("contract", "ADDRESS"),
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(object_file, json.dumps(obj.body, indent=2, ensure_ascii=False))
        archive.writestr(receipt_file, json.dumps(obj.receipt, indent=2))
        archive.writestr("VERIFY.txt", note)
        trust_root = _trust_root(obj.receipt)
        if trust_root is not None:
            archive.writestr("trust-root.json", json.dumps(trust_root, indent=2))
    return buffer.getvalue()


def _trust_root(receipt: dict[str, Any]) -> dict[str, Any] | None:
    """The portal's trust root for the receipt's contract and chain (None if the receipt names
    neither, which no receipt the portal issues does)."""
    anchor = receipt.get("anchor") or {}
    if not (anchor.get("contract") and anchor.get("chain_id")):
        return None
    return trust_root_document(contract=anchor["contract"], chain_id=anchor["chain_id"])
