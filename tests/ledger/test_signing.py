import base64
import hashlib

import pytest

from ledger.signing import (
    SIGNATURE_TAG,
    KeyDecryptionError,
    decrypt_private_key,
    encrypt_private_key,
    generate_keypair,
    key_id,
    public_key_for,
    sign,
    verify_signature,
)

LEAF = hashlib.sha256(b"a sealed item").digest()
PUBLIC_KEY = generate_keypair()[1]
SECRET = "a deployment secret"


def _flip(data: bytes, bit: int) -> bytes:
    flipped = bytearray(data)
    flipped[bit // 8] ^= 1 << (bit % 8)
    return bytes(flipped)


def test_keypairs_are_raw_32_byte_keys() -> None:
    private_key, public_key = generate_keypair()
    assert len(private_key) == len(public_key) == 32
    assert public_key_for(private_key) == public_key
    assert generate_keypair()[0] != private_key


def test_the_key_id_is_a_prefix_of_the_public_key_hash() -> None:
    public_key = bytes(range(32))
    expected = "ed25519:" + hashlib.sha256(public_key).hexdigest()[:32]
    assert key_id(public_key) == expected
    assert len(expected) == len("ed25519:") + 32


def test_it_refuses_a_key_id_for_a_short_key() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        key_id(bytes(31))


def test_a_signature_verifies() -> None:
    private_key, public_key = generate_keypair()
    signature = sign(private_key, LEAF)
    assert len(signature) == 64
    assert verify_signature(public_key, LEAF, signature)


def test_it_signs_the_tagged_leaf() -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    private_key, public_key = generate_keypair()
    signature = sign(private_key, LEAF)
    # Raises InvalidSignature if the message were anything else.
    Ed25519PublicKey.from_public_bytes(public_key).verify(signature, SIGNATURE_TAG + LEAF)
    assert SIGNATURE_TAG == b"cti-portal:signature:v1\x00"


@pytest.mark.parametrize("bit", [0, 7, 100, 255])
def test_a_flipped_bit_in_the_leaf_fails(bit: int) -> None:
    private_key, public_key = generate_keypair()
    signature = sign(private_key, LEAF)
    assert not verify_signature(public_key, _flip(LEAF, bit), signature)


@pytest.mark.parametrize("bit", [0, 9, 300, 511])
def test_a_flipped_bit_in_the_signature_fails(bit: int) -> None:
    private_key, public_key = generate_keypair()
    signature = sign(private_key, LEAF)
    assert not verify_signature(public_key, LEAF, _flip(signature, bit))


def test_another_key_does_not_verify() -> None:
    private_key, _ = generate_keypair()
    _, other_public_key = generate_keypair()
    assert not verify_signature(other_public_key, LEAF, sign(private_key, LEAF))


@pytest.mark.parametrize(
    ("public_key", "leaf", "signature"),
    [
        (PUBLIC_KEY[:31], LEAF, bytes(64)),
        (PUBLIC_KEY, LEAF[:31], bytes(64)),
        (PUBLIC_KEY, LEAF, bytes(63)),
        (PUBLIC_KEY, LEAF, bytes(64)),
        (PUBLIC_KEY, LEAF, b"\xff" * 64),
        ("not bytes", LEAF, bytes(64)),
        (PUBLIC_KEY, None, bytes(64)),
    ],
)
def test_verification_never_raises_on_bad_input(public_key, leaf, signature) -> None:
    assert verify_signature(public_key, leaf, signature) is False


def test_verification_accepts_memoryviews() -> None:
    private_key, public_key = generate_keypair()
    signature = sign(private_key, LEAF)
    assert verify_signature(memoryview(public_key), memoryview(LEAF), memoryview(signature))


def test_it_refuses_to_sign_something_other_than_a_leaf() -> None:
    private_key, _ = generate_keypair()
    with pytest.raises(ValueError, match="32 bytes"):
        sign(private_key, b"not a hash")


def test_encryption_round_trips() -> None:
    private_key, _ = generate_keypair()
    token = encrypt_private_key(private_key, secret=SECRET)
    assert token.startswith("v1:")
    assert token.isascii()
    assert private_key.hex() not in token
    assert decrypt_private_key(token, secret=SECRET) == private_key


def test_encryption_uses_a_fresh_nonce() -> None:
    private_key, _ = generate_keypair()
    first = encrypt_private_key(private_key, secret=SECRET)
    assert first != encrypt_private_key(private_key, secret=SECRET)


def test_a_wrong_secret_raises() -> None:
    token = encrypt_private_key(generate_keypair()[0], secret=SECRET)
    with pytest.raises(KeyDecryptionError, match="wrong secret"):
        decrypt_private_key(token, secret="another secret")


def test_a_tampered_token_raises() -> None:
    token = encrypt_private_key(generate_keypair()[0], secret=SECRET)
    blob = bytearray(base64.urlsafe_b64decode(token[3:]))
    blob[20] ^= 1
    tampered = "v1:" + base64.urlsafe_b64encode(bytes(blob)).decode()
    with pytest.raises(KeyDecryptionError):
        decrypt_private_key(tampered, secret=SECRET)


@pytest.mark.parametrize("token", ["", "v1", "v2:AAAA", "v1:not base64!", "v1:AAAA"])
def test_a_malformed_token_raises(token: str) -> None:
    with pytest.raises(KeyDecryptionError):
        decrypt_private_key(token, secret=SECRET)


def test_key_decryption_errors_are_value_errors() -> None:
    assert issubclass(KeyDecryptionError, ValueError)


def test_it_refuses_an_empty_secret() -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        encrypt_private_key(generate_keypair()[0], secret="")
