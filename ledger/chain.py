"""Client for the AnchorRegistry contract on an Ethereum-compatible node.

This is the only module in the project that imports web3. It talks JSON-RPC over
HTTP, signs transactions locally with a private key (the node holds no accounts),
and turns every web3, HTTP and node failure into :class:`ChainError` (or its
subclass :class:`AnchorRejected` when the contract reverts), so callers never see
a web3 exception.

Anchoring is split into :meth:`AnchorChain.sign_anchor` and
:meth:`AnchorChain.send_raw` so the caller can store the signed transaction
before broadcasting it: after a crash the same bytes can be sent again, and
:meth:`AnchorChain.send_raw` accepts a transaction the node already has.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import requests
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import HTTPProvider, Web3
from web3.contract import Contract
from web3.exceptions import (
    ContractLogicError,
    TransactionNotFound,
    Web3Exception,
    Web3RPCError,
)

from ledger.facts import AnchorFacts

ARTIFACT_PATH = Path(__file__).resolve().parent / "contracts" / "AnchorRegistry.json"

MAX_TREE_SIZE = 2**64 - 1  # the contract keys checkpoints by uint64
DEFAULT_MAX_GROWTH = 1_000_000  # entries one checkpoint may add (the contract's limit)
CHECKPOINT_EVENT_TOPIC = keccak(text="CheckpointAnchored(uint64,bytes32,uint256)")

# Gas headroom over the node's estimate: the estimate is taken against the
# pending state, which may change a little before the transaction is mined.
_GAS_HEADROOM_PERCENT = 10

# How nodes say "I already have this exact transaction" (geth, anvil/reth,
# Nethermind, Besu, OpenEthereum respectively); compared lower-cased.
_ALREADY_KNOWN_MARKERS = (
    "already known",
    "already imported",
    "alreadyknown",
    "known transaction",
)

# How nodes refuse a transaction whose nonce is taken: by a mined transaction (geth, anvil:
# "nonce too low"; Besu: "NONCE_TOO_LOW"; Nethermind: "OldNonce"), or by a pending one they
# will not replace for the fee offered (geth, anvil: "replacement transaction underpriced";
# Besu: "REPLACEMENT_UNDERPRICED"); compared lower-cased.
_NONCE_TAKEN_MARKERS = (
    "nonce too low",
    "nonce_too_low",
    "oldnonce",
    "underpriced",
)


class ChainError(Exception):
    """Any failure talking to the ledger node; ``str()`` is meant for humans."""


class AnchorRejected(ChainError):
    """The contract reverted; the message carries the revert reason."""


class TransactionRefused(ChainError):
    """The node did not take a signed transaction into its pool because its nonce is taken:
    by a mined transaction, or by a pending one it will not replace for the fee offered.
    Nothing was broadcast."""


@dataclass(frozen=True)
class Deployment:
    address: str
    transaction_hash: str
    block_number: int


@dataclass(frozen=True)
class SignedAnchorTx:
    raw: bytes
    transaction_hash: str
    nonce: int
    sender: str
    max_fee: int = 0
    priority_fee: int = 0


@dataclass(frozen=True)
class CheckpointEvent:
    tree_size: int
    root: bytes
    block_number: int
    transaction_hash: str


@dataclass(frozen=True)
class MinedTx:
    transaction_hash: str
    block_number: int
    succeeded: bool
    confirmations: int
    # The hash of the block that holds it: after a reorganisation the same transaction may sit
    # in another block of the same number.
    block_hash: str = ""


def load_artifact() -> dict[str, Any]:
    """Return the compiled contract (``abi``, ``bytecode``, compiler settings)."""
    with ARTIFACT_PATH.open(encoding="utf-8") as f:
        return json.load(f)


class AnchorChain:
    """One node, optionally one deployed AnchorRegistry.

    Every call is a JSON-RPC request with ``timeout`` seconds to answer. web3's
    own retries are switched off: callers (a Celery task, a sweeper) own retrying,
    and an unreachable node should fail fast rather than after several backoffs.
    """

    def __init__(
        self, rpc_url: str, contract_address: str | None = None, *, timeout: float = 10.0
    ) -> None:
        self.rpc_url = rpc_url
        self.timeout = timeout
        self._w3 = Web3(
            HTTPProvider(
                rpc_url,
                request_kwargs={"timeout": timeout},
                exception_retry_configuration=None,
            )
        )
        # Every transaction is built and signed here with explicit chain id, nonce, gas and
        # EIP-1559 fees, and addresses are checksummed hex: web3's request validation (an
        # extra eth_chainId per call), ENS lookups and gas-price strategy only cost time.
        for name in ("validation", "ens_name_to_address", "gas_price_strategy"):
            self._w3.middleware_onion.remove(name)
        self.contract_address: str | None = None
        if contract_address is not None:
            self.contract_address = _checksum(contract_address)

    def __repr__(self) -> str:
        return f"AnchorChain({self.rpc_url!r}, {self.contract_address!r})"

    # -- node -----------------------------------------------------------------

    def chain_id(self) -> int:
        with self._translate("reading the chain id"):
            return self._w3.eth.chain_id

    def block_number(self) -> int:
        with self._translate("reading the block number"):
            return self._w3.eth.block_number

    def has_code(self, address: str) -> bool:
        """Whether a contract is deployed at ``address``."""
        checksummed = _checksum(address)
        with self._translate(f"reading the code at {checksummed}"):
            return len(self._w3.eth.get_code(checksummed)) > 0

    # -- transactions ---------------------------------------------------------

    def deploy(self, sender_key: str, *, max_growth: int = DEFAULT_MAX_GROWTH) -> Deployment:
        """Deploy the AnchorRegistry artifact from ``sender_key`` (who becomes owner and
        sender), accepting at most ``max_growth`` new entries per checkpoint, and wait for it
        to be mined."""
        account = _account(sender_key)
        _check_tree_size(max_growth)
        artifact = load_artifact()
        factory = self._w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
        with self._translate("preparing the deployment"):
            data = factory.constructor(max_growth).data_in_transaction
        signed = self._sign(account, {"data": data}, action="deploying the contract")
        tx_hash = self.send_raw(signed.raw)
        mined = self.wait_mined(tx_hash, timeout=max(self.timeout, 30.0))
        if not mined.succeeded:
            raise ChainError(f"deployment transaction {tx_hash} failed")
        with self._translate(f"reading the receipt of {tx_hash}"):
            receipt = self._w3.eth.get_transaction_receipt(tx_hash)
        return Deployment(
            address=receipt["contractAddress"],
            transaction_hash=tx_hash,
            block_number=mined.block_number,
        )

    def sign_anchor(
        self,
        sender_key: str,
        tree_size: int,
        root: bytes,
        consistency: Sequence[bytes] = (),
        *,
        nonce: int | None = None,
        min_fees: tuple[int, int] | None = None,
    ) -> SignedAnchorTx:
        """Build and sign ``anchor(tree_size, root, consistency)`` without sending it.

        ``consistency`` is the RFC 9162 consistency proof from the contract's latest
        checkpoint (empty for the first). The nonce is the sender's pending nonce unless
        given, gas is estimated by the node and fees follow EIP-1559, raised to at least
        ``min_fees`` (max fee, priority fee) when given. If the estimate reverts (size not
        growing or growing too much, an inconsistent proof, an empty root, not the sender)
        this raises :class:`AnchorRejected`.
        """
        _check_tree_size(tree_size)
        if len(root) != 32:
            raise ValueError(f"root must be 32 bytes, got {len(root)}")
        if any(len(node) != 32 for node in consistency):
            raise ValueError("every consistency proof node must be 32 bytes")
        account = _account(sender_key)
        contract = self._contract
        with self._translate("encoding the anchor call"):
            data = contract.encode_abi(
                "anchor", args=[tree_size, bytes(root), [bytes(node) for node in consistency]]
            )
        return self._sign(
            account,
            {"to": contract.address, "data": data},
            action=f"anchoring tree size {tree_size}",
            nonce=nonce,
            min_fees=min_fees,
        )

    def sign_call(self, sender_key: str, function: str, *args: Any) -> SignedAnchorTx:
        """Sign an owner call of the contract (``setSender``, ``transferOwnership``,
        ``setMaxGrowth``) without sending it; AnchorRejected if it would revert."""
        account = _account(sender_key)
        contract = self._contract
        with self._translate(f"encoding {function}"):
            data = contract.encode_abi(function, args=list(args))
        return self._sign(account, {"to": contract.address, "data": data}, action=function)

    def send_raw(self, raw: bytes) -> str:
        """Broadcast a signed transaction and return its hash.

        Sending the same bytes twice is safe: when the node already has this
        transaction (pending, or mined so its nonce is now too low) the hash is
        returned as if it had just been accepted. Raises :class:`TransactionRefused`
        when the node refuses another transaction at a nonce that is taken (mined, or
        pending and not replaced for this fee), ChainError for any other failure.
        """
        tx_hash = "0x" + keccak(raw).hex()
        try:
            with self._translate("sending the transaction"):
                self._w3.eth.send_raw_transaction(raw)
        except ChainError as exc:
            reason = str(exc).lower()
            if any(marker in reason for marker in _ALREADY_KNOWN_MARKERS):
                return tx_hash
            if any(marker in reason for marker in _NONCE_TAKEN_MARKERS):
                if self.knows_transaction(tx_hash):
                    return tx_hash
                raise TransactionRefused(str(exc)) from exc
            raise
        return tx_hash

    def mined(self, tx_hash: str) -> MinedTx | None:
        """The outcome of ``tx_hash``, or None if it is not mined (yet) or unknown."""
        with self._translate(f"reading the receipt of {tx_hash}"):
            try:
                receipt = self._w3.eth.get_transaction_receipt(tx_hash)
            except TransactionNotFound:
                return None
            if receipt.get("blockNumber") is None:
                return None
            head = self._w3.eth.block_number
        block = receipt["blockNumber"]
        return MinedTx(
            transaction_hash=receipt["transactionHash"].to_0x_hex(),
            block_number=block,
            succeeded=receipt["status"] == 1,
            confirmations=max(head - block + 1, 0),
            block_hash=_hex(receipt.get("blockHash")),
        )

    def final_block(self, finality: int | str) -> int:
        """The newest block counted as final: with a depth ``n``, the block ``n - 1`` below the
        head (so a block ``n`` deep counts); with ``"finalized"``, the node's finalized block
        (the consensus layer's, or QBFT's head). -1 when no block is final yet."""
        if finality == "finalized":
            with self._translate("reading the finalized block"):
                return self._w3.eth.get_block("finalized")["number"]
        if not isinstance(finality, int) or finality < 1:
            raise ValueError(f'finality must be a positive depth or "finalized", not {finality!r}')
        return self.block_number() - finality + 1

    def wait_mined(self, tx_hash: str, *, timeout: float = 30.0, poll: float = 0.05) -> MinedTx:
        """Poll until ``tx_hash`` is mined; ChainError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            mined = self.mined(tx_hash)
            if mined is not None:
                return mined
            if time.monotonic() >= deadline:
                raise ChainError(f"transaction {tx_hash} not mined within {timeout:g}s")
            time.sleep(poll)

    # -- contract state -------------------------------------------------------

    def anchored_root(self, tree_size: int) -> bytes | None:
        """The root anchored for ``tree_size``, or None if that size never was."""
        _check_tree_size(tree_size)
        contract = self._contract
        with self._translate(f"reading the root at tree size {tree_size}"):
            root = contract.functions.rootAt(tree_size).call()
        return None if root == bytes(32) else bytes(root)

    def latest_checkpoint(self) -> tuple[int, bytes]:
        """The contract's latest (tree size, root); (0, zero bytes) before the first anchor."""
        contract = self._contract
        with self._translate("reading the latest checkpoint"):
            return (
                contract.functions.latestSize().call(),
                bytes(contract.functions.latestRoot().call()),
            )

    def consistency_holds(
        self,
        first: int,
        second: int,
        first_root: bytes,
        second_root: bytes,
        proof: Sequence[bytes],
    ) -> bool:
        """The contract's own verdict on an RFC 9162 consistency proof (a free eth_call)."""
        contract = self._contract
        with self._translate("checking a consistency proof on chain"):
            return contract.functions.verifyConsistency(
                first, second, bytes(first_root), bytes(second_root), [bytes(n) for n in proof]
            ).call()

    def max_growth(self) -> int:
        contract = self._contract
        with self._translate("reading the growth limit"):
            return contract.functions.maxGrowth().call()

    def sender(self) -> str:
        contract = self._contract
        with self._translate("reading the sender"):
            return contract.functions.sender().call()

    def latest_size(self) -> int:
        """The largest tree size anchored so far (0 before the first anchor)."""
        contract = self._contract
        with self._translate("reading the latest anchored size"):
            return contract.functions.latestSize().call()

    def anchor_facts(self, tx_hash: str, tree_size: int, finality: int | str = 1) -> AnchorFacts:
        """Everything a verifier needs about one anchoring transaction of this contract, from
        this node: the transaction's block and sender, the checkpoints its events record (so a
        receipt cannot cite an earlier anchor's transaction), the contract's root and time for
        ``tree_size``, and the head block (``"finalized"``: the node's finalized block)."""
        _check_tree_size(tree_size)
        contract = self._contract
        with self._translate(f"reading the anchor facts of {tx_hash}"):
            chain_id = self._w3.eth.chain_id
            has_code = len(self._w3.eth.get_code(contract.address)) > 0
            block = sender = None
            checkpoints: list[tuple[int, bytes]] = []
            try:
                receipt = self._w3.eth.get_transaction_receipt(tx_hash)
            except TransactionNotFound:
                receipt = None
            if (
                receipt is not None
                and receipt.get("blockNumber") is not None
                and receipt["status"] == 1
                and _same_address(receipt.get("to"), contract.address)
            ):
                block, sender = receipt["blockNumber"], receipt["from"]
                checkpoints = [
                    _decode_checkpoint_event(log)
                    for log in receipt["logs"]
                    if _same_address(log["address"], contract.address)
                    and log["topics"]
                    and bytes(log["topics"][0]) == CHECKPOINT_EVENT_TOPIC
                ]
            root = root_at = None
            if has_code:
                root = bytes(contract.functions.rootAt(tree_size).call())
                root_at = contract.functions.anchoredAt(tree_size).call()
            if finality == "finalized":
                head = self._w3.eth.get_block("finalized")["number"]
            else:
                head = self._w3.eth.block_number
        return AnchorFacts(
            chain_id=chain_id,
            contract=contract.address,
            has_code=has_code,
            transaction_hash=tx_hash,
            block_number=block,
            sender=sender,
            checkpoints=tuple(checkpoints),
            root_at_size=None if not root or root == bytes(32) else root,
            anchored_at=root_at or None,
            head_block=head,
        )

    def checkpoint_events(self, from_block: int, to_block: int) -> list[CheckpointEvent]:
        """Every CheckpointAnchored event of this contract in blocks ``from_block`` to
        ``to_block`` (inclusive), in chain order: one ``eth_getLogs`` call."""
        contract = self._contract
        with self._translate(f"reading checkpoint events of blocks {from_block}-{to_block}"):
            logs = self._w3.eth.get_logs(
                {
                    "address": contract.address,
                    "topics": [CHECKPOINT_EVENT_TOPIC],
                    "fromBlock": from_block,
                    "toBlock": to_block,
                }
            )
            events = []
            for log in logs:
                tree_size, root = _decode_checkpoint_event(log)
                events.append(
                    CheckpointEvent(
                        tree_size=tree_size,
                        root=root,
                        block_number=log["blockNumber"],
                        transaction_hash=log["transactionHash"].to_0x_hex(),
                    )
                )
        return events

    def anchors_of_size(
        self, tree_size: int, *, from_block: int = 0
    ) -> list[tuple[CheckpointEvent, str]]:
        """Every CheckpointAnchored event of this contract for ``tree_size`` from ``from_block``
        on (the size is an indexed topic, so one ``eth_getLogs`` call), each with the address
        that sent its transaction."""
        _check_tree_size(tree_size)
        contract = self._contract
        with self._translate(f"reading the anchors of tree size {tree_size}"):
            logs = self._w3.eth.get_logs(
                {
                    "address": contract.address,
                    "topics": [CHECKPOINT_EVENT_TOPIC, tree_size.to_bytes(32, "big")],
                    "fromBlock": from_block,
                    "toBlock": "latest",
                }
            )
            found = []
            for log in logs:
                size, root = _decode_checkpoint_event(log)
                tx_hash = log["transactionHash"].to_0x_hex()
                sender = self._w3.eth.get_transaction(tx_hash)["from"]
                event = CheckpointEvent(
                    tree_size=size,
                    root=root,
                    block_number=log["blockNumber"],
                    transaction_hash=tx_hash,
                )
                found.append((event, sender))
        return found

    def transaction_block(self, tx_hash: str) -> int | None:
        """The block of ``tx_hash`` if it is a mined, successful transaction to
        this contract that emitted a log from it (i.e. an anchor); else None."""
        contract = self._contract
        with self._translate(f"reading the receipt of {tx_hash}"):
            try:
                receipt = self._w3.eth.get_transaction_receipt(tx_hash)
            except TransactionNotFound:
                return None
        if receipt.get("blockNumber") is None or receipt["status"] != 1:
            return None
        if not _same_address(receipt.get("to"), contract.address):
            return None
        if not any(_same_address(log["address"], contract.address) for log in receipt["logs"]):
            return None
        return receipt["blockNumber"]

    # -- internals ------------------------------------------------------------

    @cached_property
    def _contract(self) -> Contract:
        if self.contract_address is None:
            raise ChainError("no contract address configured")
        return self._w3.eth.contract(address=self.contract_address, abi=load_artifact()["abi"])

    def _sign(
        self,
        account: LocalAccount,
        fields: dict[str, Any],
        *,
        action: str,
        nonce: int | None = None,
        min_fees: tuple[int, int] | None = None,
    ) -> SignedAnchorTx:
        """Fill in nonce, gas and EIP-1559 fees from the node, then sign."""
        with self._translate(action):
            eth = self._w3.eth
            tx: dict[str, Any] = {"from": account.address, "value": 0, **fields}
            estimate = eth.estimate_gas(tx)
            priority_fee = eth.max_priority_fee
            base_fee = eth.get_block("latest").get("baseFeePerGas") or 0
            # Room for the base fee to double before inclusion (the usual rule).
            max_fee = 2 * base_fee + priority_fee
            if min_fees is not None:
                max_fee, priority_fee = max(max_fee, min_fees[0]), max(priority_fee, min_fees[1])
            tx.update(
                chainId=eth.chain_id,
                nonce=(
                    eth.get_transaction_count(account.address, "pending")
                    if nonce is None
                    else nonce
                ),
                gas=estimate + estimate * _GAS_HEADROOM_PERCENT // 100,
                maxFeePerGas=max_fee,
                maxPriorityFeePerGas=priority_fee,
                type=2,
            )
        del tx["from"]
        signed = account.sign_transaction(tx)
        return SignedAnchorTx(
            raw=bytes(signed.raw_transaction),
            transaction_hash=signed.hash.to_0x_hex(),
            nonce=tx["nonce"],
            sender=account.address,
            max_fee=tx["maxFeePerGas"],
            priority_fee=tx["maxPriorityFeePerGas"],
        )

    def mined_nonce(self, address: str) -> int:
        """How many transactions of ``address`` are mined: its next nonce, pending ones aside."""
        checksummed = _checksum(address)
        with self._translate(f"reading the nonce of {checksummed}"):
            return self._w3.eth.get_transaction_count(checksummed, "latest")

    def transaction_fees(self, tx_hash: str) -> tuple[int, int] | None:
        """(max fee, priority fee) per gas of a transaction the node knows, else None."""
        try:
            with self._translate(f"looking up {tx_hash}"):
                tx = self._w3.eth.get_transaction(tx_hash)
        except (ChainError, TransactionNotFound):
            return None
        return tx.get("maxFeePerGas") or tx["gasPrice"], tx.get("maxPriorityFeePerGas") or 0

    def knows_transaction(self, tx_hash: str) -> bool:
        """Whether the node has ``tx_hash``, pending or mined (False if it cannot say)."""
        try:
            with self._translate(f"looking up {tx_hash}"):
                self._w3.eth.get_transaction(tx_hash)
        except (ChainError, TransactionNotFound):
            return False
        return True

    @contextmanager
    def _translate(self, action: str) -> Iterator[None]:
        """Re-raise web3, HTTP and node errors as ChainError / AnchorRejected."""
        try:
            yield
        except ContractLogicError as exc:
            raise AnchorRejected(f"{action}: {_revert_reason(exc)}") from exc
        except TransactionNotFound:
            raise  # a normal answer; the callers that expect it handle it
        except requests.Timeout as exc:
            raise ChainError(
                f"ledger node at {self.rpc_url} did not answer within {self.timeout:g}s "
                f"while {action}"
            ) from exc
        except requests.ConnectionError as exc:
            raise ChainError(
                f"cannot reach ledger node at {self.rpc_url}: {_connection_reason(exc)}"
            ) from exc
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else "?"
            raise ChainError(
                f"ledger node at {self.rpc_url} answered HTTP {status} while {action}"
            ) from exc
        except Web3RPCError as exc:
            raise ChainError(f"ledger node refused {action}: {_rpc_message(exc)}") from exc
        except (Web3Exception, requests.RequestException, ValueError, OSError) as exc:
            # ValueError covers malformed JSON from something that is not a node.
            raise ChainError(f"error while {action}: {exc}") from exc


def _account(sender_key: str) -> LocalAccount:
    try:
        return Account.from_key(sender_key)
    except Exception:  # whatever the parser says: never echo key material
        raise ChainError("invalid sender private key") from None


def sender_address(sender_key: str) -> str:
    """The checksummed address of a private key (never echoes the key on error)."""
    return _account(sender_key).address


def _checksum(address: str) -> str:
    try:
        return Web3.to_checksum_address(address)
    except (ValueError, TypeError) as exc:
        raise ChainError(f"invalid address {address!r}") from exc


def _same_address(a: str | None, b: str) -> bool:
    return a is not None and a.lower() == b.lower()


def _decode_checkpoint_event(log: Any) -> tuple[int, bytes]:
    # CheckpointAnchored(uint64 indexed treeSize, bytes32 root, uint256 timestamp):
    # the size is the first indexed topic, the data holds root then timestamp (ABI words).
    data = bytes(log["data"])
    if len(log["topics"]) != 2 or len(data) != 64:
        raise ValueError("malformed CheckpointAnchored event")
    return int.from_bytes(bytes(log["topics"][1]), "big"), data[:32]


def _hex(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.lower()
    return "0x" + bytes(value).hex()


def _check_tree_size(tree_size: int) -> None:
    if not 0 <= tree_size <= MAX_TREE_SIZE:
        raise ValueError(f"tree size {tree_size} does not fit in uint64")


def _revert_reason(exc: ContractLogicError) -> str:
    message = exc.message or "execution reverted"
    return message.removeprefix("execution reverted: ")


def _rpc_message(exc: Web3RPCError) -> str:
    error = (exc.rpc_response or {}).get("error")
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    return exc.message


def _connection_reason(exc: requests.ConnectionError) -> str:
    text = str(exc)
    if "Connection refused" in text:
        return "connection refused"
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "unknown host"
    if "timed out" in text:
        return "connection timed out"
    return "connection failed"
