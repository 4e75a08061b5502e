"""Ed25519 signatures over item leaves, and encryption of private keys at rest.

Keys travel as raw bytes: 32-byte private seeds and 32-byte public keys (RFC 8032
section 5.1.5). Signatures cover a domain tag followed by the leaf, so a portal
signature over a leaf can never be replayed as a signature over anything else.

Private keys are stored encrypted with AES-256-GCM under a key derived by
HKDF-SHA256 (RFC 5869) from a deployment secret. No Django here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_BYTES = 32
SIGNATURE_BYTES = 64
LEAF_BYTES = 32
SIGNATURE_TAG = b"cti-portal:signature:v1\x00"
# Receipt version 2: the signature covers a statement binding the organisation, the key id,
# the leaf and the subject, not the bare leaf.
STATEMENT_TAG = b"cti-portal:statement:v2\x00"
KEY_ID_PREFIX = "ed25519:"
# A signed statement names its subject ("<STIX id>@<version>") in at most this many characters,
# the length the portal stores.
SUBJECT_CHARS = 200

_ENCRYPTION_INFO = b"cti-portal:signing-key-encryption:v1"
_TOKEN_VERSION = "v1"
_NONCE_BYTES = 12  # the 96-bit nonce AES-GCM is specified for (NIST SP 800-38D 8.2)


class KeyFormatError(ValueError):
    """A key given as text is not an Ed25519 key; ``str()`` says what is wrong."""


class KeyDecryptionError(ValueError):
    """An encrypted private key could not be opened: wrong secret, or a damaged token."""


def generate_keypair() -> tuple[bytes, bytes]:
    """A fresh Ed25519 key pair as (raw 32-byte private key, raw 32-byte public key)."""
    private = Ed25519PrivateKey.generate()
    return private.private_bytes_raw(), private.public_key().public_bytes_raw()


def public_key_for(private_key: bytes) -> bytes:
    """The raw 32-byte public key of a raw 32-byte private key."""
    return _load_private(private_key).public_key().public_bytes_raw()


def parse_public_key(text: str) -> bytes:
    """The raw 32-byte Ed25519 public key written as 64 hex digits or as a PEM
    SubjectPublicKeyInfo (RFC 8410 section 4, ``-----BEGIN PUBLIC KEY-----``).

    Raises KeyFormatError naming the problem: not hex, wrong length, another algorithm, or a
    private key given where the public one belongs.
    """
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    text = (text or "").strip()
    if not text:
        raise KeyFormatError("give the Ed25519 public key, as 64 hex digits or a PEM block")
    if "PRIVATE KEY" in text:
        raise KeyFormatError(
            "this is a private key: give only the public key (keep the private key to yourself)"
        )
    if text.startswith("-----BEGIN"):
        try:
            loaded = load_pem_public_key(text.encode("ascii", "replace"))
        except (ValueError, TypeError):
            raise KeyFormatError("the PEM block is not a readable public key") from None
        if not isinstance(loaded, Ed25519PublicKey):
            raise KeyFormatError(
                "the PEM block holds a public key of another algorithm, not Ed25519"
            )
        return loaded.public_bytes_raw()
    candidate = text.lower().removeprefix("0x")
    try:
        raw = bytes.fromhex(candidate)
    except ValueError:
        raise KeyFormatError(
            "the public key is neither 64 hex digits nor a PEM block (-----BEGIN PUBLIC KEY-----)"
        ) from None
    if len(raw) != KEY_BYTES:
        raise KeyFormatError(
            f"an Ed25519 public key is {KEY_BYTES} bytes ({2 * KEY_BYTES} hex digits), "
            f"got {len(raw)} bytes"
        )
    try:
        Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        raise KeyFormatError("these 32 bytes are not an Ed25519 public key") from None
    return raw


def private_key_from_pem(data: bytes) -> bytes:
    """The raw 32-byte private key of an unencrypted PKCS#8 PEM Ed25519 private key (RFC 8410
    section 7). Raises KeyFormatError otherwise."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        loaded = load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFormatError(f"not an unencrypted PEM private key: {exc}") from None
    if not isinstance(loaded, Ed25519PrivateKey):
        raise KeyFormatError("the PEM private key is not an Ed25519 key")
    return loaded.private_bytes_raw()


def private_key_pem(private_key: bytes) -> bytes:
    """The PKCS#8 PEM form of a raw 32-byte private key (unencrypted: protect the file)."""
    from cryptography.hazmat.primitives import serialization

    return _load_private(private_key).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_key_pem(public_key: bytes) -> bytes:
    """The SubjectPublicKeyInfo PEM form of a raw 32-byte public key."""
    from cryptography.hazmat.primitives import serialization

    return Ed25519PublicKey.from_public_bytes(public_key).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def fingerprint(public_key: bytes) -> str:
    """SHA-256 of the raw public key as colon-separated hex pairs, for people to compare."""
    digest = hashlib.sha256(bytes(public_key)).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, 32, 2))


def key_id(public_key: bytes) -> str:
    """``"ed25519:"`` + the first 32 hex digits (128 bits) of SHA-256(public_key)."""
    if len(public_key) != KEY_BYTES:
        raise ValueError(f"an Ed25519 public key is {KEY_BYTES} bytes, got {len(public_key)}")
    return KEY_ID_PREFIX + hashlib.sha256(public_key).hexdigest()[:32]


def sign(private_key: bytes, leaf: bytes) -> bytes:
    """The 64-byte Ed25519 signature over SIGNATURE_TAG || leaf.

    Raises ValueError when the key is not 32 bytes or the leaf is not a 32-byte hash.
    """
    if len(leaf) != LEAF_BYTES:
        raise ValueError(f"a leaf is {LEAF_BYTES} bytes, got {len(leaf)}")
    return _load_private(private_key).sign(SIGNATURE_TAG + leaf)


def verify_signature(public_key: bytes, leaf: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is a valid Ed25519 signature by ``public_key`` over the leaf.

    Accepts any bytes-like values. Never raises: malformed keys, leaves or signatures
    simply do not verify.
    """
    byte_types = (bytes, bytearray, memoryview)
    if not all(isinstance(value, byte_types) for value in (public_key, leaf, signature)):
        return False
    public_key, leaf, signature = bytes(public_key), bytes(leaf), bytes(signature)
    if len(public_key) != KEY_BYTES or len(leaf) != LEAF_BYTES:
        return False
    if len(signature) != SIGNATURE_BYTES:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, SIGNATURE_TAG + leaf)
    except (InvalidSignature, ValueError):
        return False
    return True


def statement_bytes(*, organisation: str, key_id: str, leaf: bytes, subject: str) -> bytes:
    """STATEMENT_TAG || the RFC 8785 form of {organisation, key_id, leaf (hex), subject}: what a
    version 2 signature covers, so a signature names who signed, with which key, what."""
    import rfc8785  # the canonical form of a small dict of strings; no Django here either

    statement = {
        "organisation": organisation,
        "key_id": key_id,
        "leaf": bytes(leaf).hex(),
        "subject": subject,
    }
    return STATEMENT_TAG + rfc8785.dumps(statement)


def sign_statement(
    private_key: bytes, *, organisation: str, key_id: str, leaf: bytes, subject: str
) -> bytes:
    """The 64-byte Ed25519 signature over statement_bytes(...)."""
    if len(leaf) != LEAF_BYTES:
        raise ValueError(f"a leaf is {LEAF_BYTES} bytes, got {len(leaf)}")
    message = statement_bytes(organisation=organisation, key_id=key_id, leaf=leaf, subject=subject)
    return _load_private(private_key).sign(message)


def verify_statement(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is a valid Ed25519 signature by ``public_key`` over ``message``
    (statement_bytes). Never raises."""
    if len(public_key) != KEY_BYTES or len(signature) != SIGNATURE_BYTES:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(bytes(public_key)).verify(bytes(signature), message)
    except (InvalidSignature, ValueError):
        return False
    return True


def encrypt_private_key(raw: bytes, *, secret: str) -> str:
    """Encrypt a raw private key for storage; returns ``"v1:" + urlsafe-base64(nonce || ct)``.

    The version prefix is also bound in as associated data, so a token cannot be
    relabelled as another format. ``secret`` must be non-empty (ValueError).
    """
    if len(raw) != KEY_BYTES:
        raise ValueError(f"an Ed25519 private key is {KEY_BYTES} bytes, got {len(raw)}")
    return encrypt_secret(raw, secret=secret, info=_ENCRYPTION_INFO)


def decrypt_private_key(token: str, *, secret: str) -> bytes:
    """Open a token made by encrypt_private_key and return the raw 32-byte private key.

    Raises KeyDecryptionError when the token is malformed, of an unknown version,
    tampered with, or encrypted under a different secret.
    """
    raw = decrypt_secret(token, secret=secret, info=_ENCRYPTION_INFO)
    if len(raw) != KEY_BYTES:
        raise KeyDecryptionError(f"decrypted private key is {len(raw)} bytes, not {KEY_BYTES}")
    return raw


def encrypt_secret(raw: bytes, *, secret: str, info: bytes) -> str:
    """AES-256-GCM under a key derived from ``secret`` for the purpose named by ``info``."""
    nonce = secrets.token_bytes(_NONCE_BYTES)
    sealed = AESGCM(_encryption_key(secret, info)).encrypt(nonce, raw, _TOKEN_VERSION.encode())
    return f"{_TOKEN_VERSION}:{base64.urlsafe_b64encode(nonce + sealed).decode('ascii')}"


def decrypt_secret(token: str, *, secret: str, info: bytes) -> bytes:
    """Open a token made by encrypt_secret with the same ``info``; KeyDecryptionError if not."""
    version, separator, body = token.partition(":")
    if not separator or version != _TOKEN_VERSION:
        raise KeyDecryptionError(
            f"unknown private key token format {version!r}; expected {_TOKEN_VERSION!r}"
        )
    try:
        blob = base64.b64decode(body, altchars=b"-_", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyDecryptionError("private key token is not valid base64") from exc
    nonce, sealed = blob[:_NONCE_BYTES], blob[_NONCE_BYTES:]
    if len(nonce) != _NONCE_BYTES:
        raise KeyDecryptionError("private key token is truncated")
    try:
        return AESGCM(_encryption_key(secret, info)).decrypt(nonce, sealed, _TOKEN_VERSION.encode())
    except InvalidTag as exc:
        raise KeyDecryptionError(
            "private key token does not open: wrong secret, or the token was altered"
        ) from exc


def _encryption_key(secret: str, info: bytes) -> bytes:
    # RFC 5869: no salt is needed when the input keying material is already a
    # high-entropy secret; ``info`` binds the derived key to this one purpose.
    if not secret:
        raise ValueError("the key-encryption secret must not be empty")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info)
    return hkdf.derive(secret.encode("utf-8"))


def _load_private(private_key: bytes) -> Ed25519PrivateKey:
    if len(private_key) != KEY_BYTES:
        raise ValueError(f"an Ed25519 private key is {KEY_BYTES} bytes, got {len(private_key)}")
    return Ed25519PrivateKey.from_private_bytes(private_key)
