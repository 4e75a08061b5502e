"""The client-side signer (python -m ledger.sign): no Django, and exactly the portal's seal."""

import json
import stat
import subprocess
import sys

import pytest

from ledger import canonical, signing
from ledger.sign import SignError, generate_key_file, main, sign_bundle, subject_of
from tests import stix_samples

ORGANISATION = "identity--5d6b8b0f-0a4c-4b8e-9d5a-1f2e3d4c5b6a"


def own_bundle():
    return stix_samples.bundle(
        {**stix_samples.indicator(), "created_by_ref": ORGANISATION},
        {**stix_samples.indicator(), "created_by_ref": ORGANISATION},
    )


def test_each_object_gets_a_fresh_salt_its_leaf_and_a_statement_signature():
    private, public = signing.generate_keypair()
    bundle = own_bundle()
    document = sign_bundle(bundle, private_key=private, organisation=ORGANISATION)
    assert document["key_id"] == signing.key_id(public)
    assert document["organisation"] == ORGANISATION
    salts = set()
    for obj, signed in zip(bundle["objects"], document["objects"], strict=True):
        salt = bytes.fromhex(signed["salt"])
        salts.add(salt)
        leaf = canonical.item_leaf(salt, canonical.canonicalize(obj))
        assert signed["leaf"] == leaf.hex()
        assert signed["subject"] == f"{obj['id']}@{obj['modified']}" == subject_of(obj)
        statement = signing.statement_bytes(
            organisation=ORGANISATION,
            key_id=document["key_id"],
            leaf=leaf,
            subject=signed["subject"],
        )
        assert signing.verify_statement(public, statement, bytes.fromhex(signed["signature"]))
    assert len(salts) == len(bundle["objects"])


def test_it_refuses_what_the_portal_would_refuse():
    private, _ = signing.generate_keypair()
    foreign = stix_samples.bundle({**stix_samples.indicator(), "created_by_ref": "identity--x"})
    with pytest.raises(SignError, match="created_by_ref is identity--x"):
        sign_bundle(foreign, private_key=private, organisation=ORGANISATION)
    with pytest.raises(SignError, match="not ed25519:00"):
        sign_bundle(
            own_bundle(), private_key=private, organisation=ORGANISATION, key_id="ed25519:00"
        )
    with pytest.raises(SignError, match="STIX identity"):
        sign_bundle(own_bundle(), private_key=private, organisation="nordgrid")
    with pytest.raises(SignError, match="bundle"):
        sign_bundle({"type": "indicator"}, private_key=private, organisation=ORGANISATION)


def test_generate_key_writes_a_private_file_and_refuses_to_overwrite(tmp_path):
    path = tmp_path / "key.pem"
    key_id, public_hex = generate_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    private = signing.private_key_from_pem(path.read_bytes())
    assert signing.public_key_for(private).hex() == public_hex
    assert signing.parse_public_key((tmp_path / "key.pem.pub").read_text()).hex() == public_hex
    assert key_id == signing.key_id(bytes.fromhex(public_hex))
    with pytest.raises(SignError, match="exists"):
        generate_key_file(path)


def test_the_command_writes_a_submission(tmp_path, capsys):
    key = tmp_path / "key.pem"
    assert main(["--generate-key", str(key)]) == 0
    key_id = json.loads(capsys.readouterr().out)["key_id"]
    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps(own_bundle()))
    code = main(
        [
            str(bundle),
            "--private-key",
            str(key),
            "--organisation",
            ORGANISATION,
            "--key-id",
            key_id,
            "--distribution",
            "organisation",
            "--tlp",
            "amber",
        ]
    )
    assert code == 0
    submission = json.loads(capsys.readouterr().out)
    assert submission["bundle"] == json.loads(bundle.read_text())
    assert submission["signatures"]["key_id"] == key_id
    assert (submission["distribution"], submission["tlp"]) == ("organisation", "amber")


def test_the_command_explains_a_bad_key_file(tmp_path, capsys):
    key = tmp_path / "key.pem"
    key.write_text("not a key")
    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps(own_bundle()))
    code = main([str(bundle), "--private-key", str(key), "--organisation", ORGANISATION])
    assert code == 2
    assert "not an unencrypted PEM private key" in capsys.readouterr().err


def test_it_runs_without_django():
    """A consumer runs it alone: importing it must not pull in Django."""
    code = "import sys, ledger.sign; sys.exit('django' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
