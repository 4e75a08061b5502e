"""Gas per checkpoint, with and without the on-chain RFC 9162 consistency check.

For each proof length k from 1 to 30 this deploys a fresh AnchorRegistry on a throwaway anvil,
anchors a first checkpoint of size m, then anchors size n with a consistency proof of exactly k
hashes, and prints the gas the second anchor used. Trees of 2^29 leaves are not built: for any
proof nodes the RFC 9162 2.1.4.2 computation yields the one pair of roots they prove
consistent, so random nodes make a valid proof (the contract checks it like any other).

"Without" is the registry as it was before it checked consistency (anchor(size, root), no
proof), read from the git history (--baseline-rev), anchoring the same sizes.

    .venv/bin/python bench/checkpoint_gas.py [--baseline-rev da49929]
"""

import argparse
import hashlib
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from web3 import HTTPProvider, Web3  # noqa: E402

from ledger.chain import AnchorChain, load_artifact  # noqa: E402
from tests.anvil import ANVIL_DEV_KEY, start_anvil  # noqa: E402


def proof_length(first: int, second: int) -> int:
    """How many hashes RFC 9162 2.1.4.2 consumes for (first, second), implicit one included."""
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    count = 1  # fr = sr = the first node
    while sn:
        if fn & 1 or fn == sn:
            if not fn & 1:
                while not fn & 1 and fn:
                    fn, sn = fn >> 1, sn >> 1
        count += 1
        fn, sn = fn >> 1, sn >> 1
    explicit = count - (1 if first & (first - 1) == 0 else 0)
    return explicit


def sizes_for(length: int) -> tuple[int, int]:
    """Small sizes (first, second) whose consistency proof has exactly ``length`` hashes."""
    for exponent in range(1, 63):
        power = 2**exponent
        for second in (power + 1, power, power - 1, 2 * power - 1):
            for first in (1, 2, 3, 5, 6, 7, second - 1, power // 2 + 1, power - 1, power - 3):
                if 0 < first < second and proof_length(first, second) == length:
                    return first, second
    raise ValueError(f"no sizes found for a proof of {length} hashes")


def node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def roots_for(first: int, second: int, proof: list[bytes]) -> tuple[bytes, bytes]:
    """The (first root, second root) that ``proof`` proves consistent (RFC 9162 2.1.4.2)."""
    nodes = list(proof)
    if first & (first - 1) == 0:
        nodes = [secrets.token_bytes(32), *nodes]
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = nodes[0]
    for c in nodes[1:]:
        if fn & 1 or fn == sn:
            fr, sr = node(c, fr), node(c, sr)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node(sr, c)
        fn, sn = fn >> 1, sn >> 1
    assert sn == 0
    return fr, sr


def gas_used(chain: AnchorChain, signed) -> int:
    tx = chain.send_raw(signed.raw)
    chain.wait_mined(tx)
    return chain._w3.eth.get_transaction_receipt(tx)["gasUsed"]


def baseline_gas(url: str, artifact: dict, first: int, second: int) -> int:
    w3 = Web3(HTTPProvider(url))
    account = w3.eth.account.from_key(ANVIL_DEV_KEY)
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])

    def send(tx: dict) -> dict:
        tx.update(
            {
                "from": account.address,
                "nonce": w3.eth.get_transaction_count(account.address),
                "chainId": w3.eth.chain_id,
                "gasPrice": w3.eth.gas_price * 2,
            }
        )
        tx["gas"] = w3.eth.estimate_gas(tx) * 2
        signed = account.sign_transaction(tx)
        return w3.eth.wait_for_transaction_receipt(
            w3.eth.send_raw_transaction(signed.raw_transaction)
        )

    address = send({"data": factory.constructor().data_in_transaction})["contractAddress"]
    contract = w3.eth.contract(address=address, abi=artifact["abi"])
    send({"to": address, "data": contract.encode_abi("anchor", args=[first, b"\x11" * 32])})
    receipt = send(
        {"to": address, "data": contract.encode_abi("anchor", args=[second, b"\x22" * 32])}
    )
    return receipt["gasUsed"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline-rev", default="da49929")
    parser.add_argument("--max", type=int, default=30)
    args = parser.parse_args()
    baseline = json.loads(
        subprocess.run(
            ["git", "show", f"{args.baseline_rev}:ledger/contracts/AnchorRegistry.json"],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    print(
        f"solc {load_artifact()['compiler']}, anvil, chain id 31337; machine: {os.uname().machine}"
    )
    print(
        f"{'hashes':>6} {'first':>12} {'second':>12} {'with check':>11} {'without':>8} {'extra':>7}"
    )
    with start_anvil() as anvil:
        # Without the check the cost does not depend on the sizes: one measurement will do.
        unchecked = baseline_gas(anvil.url, baseline, 2, 3)
        for length in range(1, args.max + 1):
            first, second = sizes_for(length)
            proof = [secrets.token_bytes(32) for _ in range(length)]
            first_root, second_root = roots_for(first, second, proof)
            deployed = AnchorChain(anvil.url).deploy(ANVIL_DEV_KEY, max_growth=2**64 - 1)
            chain = AnchorChain(anvil.url, deployed.address)
            gas_used(chain, chain.sign_anchor(ANVIL_DEV_KEY, first, first_root))
            checked = gas_used(chain, chain.sign_anchor(ANVIL_DEV_KEY, second, second_root, proof))
            print(
                f"{length:>6} {first:>12} {second:>12} {checked:>11,} {unchecked:>8,} "
                f"{checked - unchecked:>7,}"
            )


if __name__ == "__main__":
    main()
