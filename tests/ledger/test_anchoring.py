"""Anchoring through the portal's services against the consistency-checking contract (anvil)."""

import time

import pytest

from ledger import merkle
from ledger import services as ledger_services
from ledger.chain import ChainError
from ledger.models import Checkpoint, CheckpointState, KeyEvent, MerkleNode
from tests import stix_samples
from tests.sharing.test_pipeline import anchor_key_directory, publish, run_pipeline

pytestmark = pytest.mark.django_db


def test_each_checkpoint_carries_a_consistency_proof_the_contract_accepts(
    chain, trust_group, publisher
):
    base = anchor_key_directory()
    run_pipeline(publish(publisher))
    run_pipeline(publish(publisher, bundle=stix_samples.bundle(stix_samples.indicator())))
    on_chain = ledger_services.chain_client()
    assert on_chain.latest_checkpoint() == (base + 3, bytes(ledger_services.log_head().root))
    assert list(Checkpoint.objects.order_by("tree_size").values_list("tree_size", flat=True)) == [
        base,
        base + 2,
        base + 3,
    ]


def test_a_large_backlog_is_anchored_in_steps_the_contract_allows(
    chain, anvil, trust_group, publisher, settings
):
    from ledger.chain import AnchorChain
    from tests.anvil import ANVIL_DEV_KEY

    small = AnchorChain(anvil.url).deploy(ANVIL_DEV_KEY, max_growth=2)
    settings.LEDGER_CONTRACT_ADDRESS = small.address
    bundle = stix_samples.bundle(*(stix_samples.indicator() for _ in range(5)))
    publication = run_pipeline(publish(publisher, bundle=bundle))

    sizes = list(
        Checkpoint.objects.filter(state=CheckpointState.CONFIRMED)
        .order_by("tree_size")
        .values_list("tree_size", flat=True)
    )
    # The key directory's entries (portal-held keys created) and the five objects, two at a time.
    head = ledger_services.log_head().size
    assert head == KeyEvent.objects.count() + 5
    assert sizes == [*range(2, head, 2), head]
    assert publication.items.count() == len(bundle["objects"])
    assert all(item.receipt for item in publication.items.all())


def test_a_database_that_is_not_the_anchored_log_stops_anchoring(chain, trust_group, publisher):
    """A database restored from an older backup, or rewritten, would fork the log: the sender
    refuses before the contract has to."""
    run_pipeline(publish(publisher))
    anchored = ledger_services.log_head().size
    # Every stored subtree holding leaf 0, whatever the log's size, is rewritten.
    for node in MerkleNode.objects.filter(index=0, level__gte=1):
        node.hash = merkle.node_hash(bytes(node.hash), bytes(node.hash))
        node.save()
    with pytest.raises(ChainError, match="does not extend the contract's latest checkpoint"):
        run_pipeline(publish(publisher, bundle=stix_samples.bundle(stix_samples.indicator())))
    assert ledger_services.chain_client().latest_size() == anchored


def test_the_trust_root_names_the_contract_sender_and_keys(
    chain, trust_group, publisher, alpine_admin, client, token_for, django_assert_max_num_queries
):
    run_pipeline(publish(publisher))
    headers = token_for(alpine_admin)
    with django_assert_max_num_queries(8):
        answer = client.get("/api/ledger/trust-root/", headers=headers)
    assert answer.status_code == 200
    doc = answer.json()
    assert (doc["type"], doc["chain_id"], doc["contract"]) == (
        "cti-portal-trust-root",
        31337,
        chain.address,
    )
    assert doc["anchor_senders"] == ["0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"]
    owners = {key["organisation"] for key in doc["keys"]}
    assert publisher.organisation.stix_identity_id in owners
    assert {key["custody"] for key in doc["keys"]} == {"portal-held"}
    assert client.get("/api/ledger/trust-root/").status_code == 401


# --- Liveness ----------------------------------------------------------------------------


def seal_one(publisher):
    from sharing.services import pipeline

    publication = publish(publisher)
    assert pipeline.seal_received() == 1
    return publication


def mine_later(anvil, seconds: float):
    """Mine one block after ``seconds`` (automine is off meanwhile), in a thread."""
    import threading

    from tests.anvil import rpc

    def later() -> None:
        time.sleep(seconds)
        rpc(anvil.url, "evm_mine")

    thread = threading.Thread(target=later, daemon=True)
    thread.start()
    return thread


def test_a_stuck_transaction_is_replaced_with_a_higher_fee(
    chain, anvil, trust_group, publisher, settings
):
    from tests.anvil import rpc

    settings.LEDGER_FEE_BUMP_SECONDS = 0
    settings.LEDGER_MAX_FEE_PER_GAS = 10**13
    seal_one(publisher)
    rpc(anvil.url, "evm_setAutomine", False)
    try:
        thread = mine_later(anvil, 2.0)
        ledger_services.anchor_pending()
        thread.join()
    finally:
        rpc(anvil.url, "evm_setAutomine", True)

    checkpoint = Checkpoint.objects.get()
    assert checkpoint.state == CheckpointState.CONFIRMED
    assert checkpoint.replaced_transactions, "the pending transaction was never replaced"
    on_chain = ledger_services.chain_client()
    first_fee, _ = on_chain.transaction_fees(checkpoint.replaced_transactions[0]) or (None, None)
    mined_fee, _ = on_chain.transaction_fees(checkpoint.transaction_hash)
    assert first_fee is None  # replaced in the pool: the node forgot it
    assert mined_fee > 0
    assert on_chain.latest_checkpoint() == (checkpoint.tree_size, bytes(checkpoint.root))


def test_a_replacement_refused_because_the_original_was_mined_keeps_the_original(
    chain, anvil, trust_group, publisher, settings, caplog
):
    """The fee bump races with the block: the original is mined after the replacement was
    signed and before it is sent, so the node refuses it ("nonce too low"). The mined original
    wins; the refused replacement, which no node holds, is not recorded."""
    from unittest import mock

    from ledger.chain import AnchorChain, TransactionRefused
    from tests.anvil import rpc

    settings.LEDGER_FEE_BUMP_SECONDS = 0
    settings.LEDGER_MAX_FEE_PER_GAS = 10**13
    seal_one(publisher)
    real_send = AnchorChain.send_raw
    sent: list[bytes] = []
    refusals: list[TransactionRefused] = []

    def send_raw(chain_client, raw: bytes) -> str:
        sent.append(raw)
        if len(sent) == 2:  # the first replacement: the original's block comes first
            rpc(anvil.url, "evm_mine")
            rpc(anvil.url, "evm_setAutomine", True)
            try:
                return real_send(chain_client, raw)
            except TransactionRefused as exc:
                refusals.append(exc)
                raise
        return real_send(chain_client, raw)

    rpc(anvil.url, "evm_setAutomine", False)
    try:
        with mock.patch.object(AnchorChain, "send_raw", send_raw):
            ledger_services.anchor_pending()
    finally:
        rpc(anvil.url, "evm_setAutomine", True)

    assert len(refusals) == 1 and "nonce too low" in str(refusals[0]).lower()
    assert "not replacing the anchor transaction" in caplog.text
    checkpoint = Checkpoint.objects.get()
    assert checkpoint.state == CheckpointState.CONFIRMED
    assert checkpoint.replaced_transactions == []
    on_chain = ledger_services.chain_client()
    mined = on_chain.mined(checkpoint.transaction_hash)
    assert mined is not None and mined.block_number == checkpoint.block_number
    assert on_chain.latest_checkpoint() == (checkpoint.tree_size, bytes(checkpoint.root))


def test_the_fee_never_goes_above_the_ceiling(chain, anvil, trust_group, publisher, settings):
    from tests.anvil import rpc

    settings.LEDGER_FEE_BUMP_SECONDS = 0
    settings.LEDGER_MAX_FEE_PER_GAS = 1  # below any fee: never bump
    seal_one(publisher)
    rpc(anvil.url, "evm_setAutomine", False)
    try:
        thread = mine_later(anvil, 1.0)
        ledger_services.anchor_pending()
        thread.join()
    finally:
        rpc(anvil.url, "evm_setAutomine", True)

    checkpoint = Checkpoint.objects.get()
    assert checkpoint.state == CheckpointState.CONFIRMED
    assert checkpoint.replaced_transactions == []


def test_a_nonce_taken_by_a_foreign_transaction_is_recovered_from(
    chain, anvil, trust_group, publisher
):
    from unittest import mock

    from eth_account import Account
    from web3 import HTTPProvider, Web3

    from tests.anvil import ANVIL_DEV_KEY, ANVIL_SECOND_ADDRESS

    seal_one(publisher)
    # The sender dies after storing its signed transaction, before broadcasting it...
    with mock.patch("ledger.chain.AnchorChain.send_raw", side_effect=SystemExit):
        with pytest.raises(SystemExit):
            ledger_services.anchor_pending()
    stored = Checkpoint.objects.get()
    # ... and meanwhile something else spends that nonce of the sender's account.
    w3 = Web3(HTTPProvider(anvil.url))
    account = Account.from_key(ANVIL_DEV_KEY)
    foreign = account.sign_transaction(
        {
            "to": ANVIL_SECOND_ADDRESS,
            "value": 1,
            "nonce": stored.nonce,
            "gas": 21000,
            "maxFeePerGas": 10**11,
            "maxPriorityFeePerGas": 10**9,
            "chainId": 31337,
            "type": 2,
        }
    )
    w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(foreign.raw_transaction))

    ledger_services.anchor_pending()

    checkpoint = Checkpoint.objects.get()
    assert checkpoint.state == CheckpointState.CONFIRMED
    assert checkpoint.nonce == stored.nonce + 1
    assert checkpoint.replaced_transactions == [stored.transaction_hash]
    assert ledger_services.chain_client().anchored_root(checkpoint.tree_size) == bytes(
        checkpoint.root
    )


def test_a_registry_from_before_consistency_checking_is_replaced(chain, anvil):
    """A chain kept from an older version holds a registry without consistency checking:
    deploy_anchor deploys the current one instead of reusing it."""
    from ledger.models import Deployment
    from tests.anvil import rpc

    old = "0x" + "0b" * 20
    rpc(anvil.url, "anvil_setCode", old, "0x60006000fd")  # reverts every call, as maxGrowth() did
    Deployment.objects.all().delete()
    Deployment.objects.create(
        chain_id=31337, address=old, transaction_hash="0x" + "00" * 32, block_number=1
    )

    deployment, new = ledger_services.deploy_anchor_contract_if_needed()

    assert new and deployment.address != old
    assert ledger_services.contract_address() == deployment.address
    assert ledger_services.deploy_anchor_contract_if_needed() == (deployment, False)
