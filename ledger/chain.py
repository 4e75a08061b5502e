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
from collections.abc import Iterator
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

ARTIFACT_PATH = Path(__file__).resolve().parent / "contracts" / "AnchorRegistry.json"

MAX_TREE_SIZE = 2**64 - 1  # the contract keys checkpoints by uint64

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


class ChainError(Exception):
    """Any failure talking to the ledger node; ``str()`` is meant for humans."""


class AnchorRejected(ChainError):
    """The contract reverted; the message carries the revert reason."""


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


@dataclass(frozen=True)
class MinedTx:
    transaction_hash: str
    block_number: int
    succeeded: bool
    confirmations: int


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

    def deploy(self, sender_key: str) -> Deployment:
        """Deploy the AnchorRegistry artifact from ``sender_key`` (who becomes
        the owner) and wait for it to be mined."""
        account = _account(sender_key)
        artifact = load_artifact()
        factory = self._w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
        with self._translate("preparing the deployment"):
            data = factory.constructor().data_in_transaction
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

    def sign_anchor(self, sender_key: str, tree_size: int, root: bytes) -> SignedAnchorTx:
        """Build and sign ``anchor(tree_size, root)`` without sending it.

        The nonce is the sender's pending nonce, gas is estimated by the node and
        fees follow EIP-1559. If the estimate reverts (size not growing, empty
        root, sender not the owner) this raises :class:`AnchorRejected`.
        """
        _check_tree_size(tree_size)
        if len(root) != 32:
            raise ValueError(f"root must be 32 bytes, got {len(root)}")
        account = _account(sender_key)
        contract = self._contract
        with self._translate("encoding the anchor call"):
            data = contract.encode_abi("anchor", args=[tree_size, bytes(root)])
        return self._sign(
            account,
            {"to": contract.address, "data": data},
            action=f"anchoring tree size {tree_size}",
        )

    def send_raw(self, raw: bytes) -> str:
        """Broadcast a signed transaction and return its hash.

        Sending the same bytes twice is safe: when the node already has this
        transaction (pending, or mined so its nonce is now too low) the hash is
        returned as if it had just been accepted.
        """
        tx_hash = "0x" + keccak(raw).hex()
        try:
            with self._translate("sending the transaction"):
                self._w3.eth.send_raw_transaction(raw)
        except ChainError as exc:
            reason = str(exc).lower()
            if any(marker in reason for marker in _ALREADY_KNOWN_MARKERS):
                return tx_hash
            if "nonce too low" in reason and self.knows_transaction(tx_hash):
                return tx_hash
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
        )

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

    def latest_size(self) -> int:
        """The largest tree size anchored so far (0 before the first anchor)."""
        contract = self._contract
        with self._translate("reading the latest anchored size"):
            return contract.functions.latestSize().call()

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
        self, account: LocalAccount, fields: dict[str, Any], *, action: str
    ) -> SignedAnchorTx:
        """Fill in nonce, gas and EIP-1559 fees from the node, then sign."""
        with self._translate(action):
            eth = self._w3.eth
            tx: dict[str, Any] = {"from": account.address, "value": 0, **fields}
            estimate = eth.estimate_gas(tx)
            priority_fee = eth.max_priority_fee
            base_fee = eth.get_block("latest").get("baseFeePerGas") or 0
            tx.update(
                chainId=eth.chain_id,
                nonce=eth.get_transaction_count(account.address, "pending"),
                gas=estimate + estimate * _GAS_HEADROOM_PERCENT // 100,
                # Room for the base fee to double before inclusion (the usual rule).
                maxFeePerGas=2 * base_fee + priority_fee,
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
        )

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


def _checksum(address: str) -> str:
    try:
        return Web3.to_checksum_address(address)
    except (ValueError, TypeError) as exc:
        raise ChainError(f"invalid address {address!r}") from exc


def _same_address(a: str | None, b: str) -> bool:
    return a is not None and a.lower() == b.lower()


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
