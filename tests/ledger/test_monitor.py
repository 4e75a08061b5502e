"""The monitor follows the checkpoints on a real chain and checks the portal's proofs through
its real API (live server), the way a member organisation runs it from cron."""

import json

import pytest

from ledger import monitor
from ledger.merkle import node_hash
from ledger.models import Checkpoint, CheckpointState, MerkleNode
from tests import stix_samples
from tests.sharing.test_pipeline import publish, run_pipeline

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def anchored_three_times(chain, trust_group, publisher):
    run_pipeline(publish(publisher))
    run_pipeline(publish(publisher, bundle=stix_samples.bundle(stix_samples.indicator())))
    run_pipeline(publish(publisher, bundle=stix_samples.bundle(stix_samples.indicator())))
    return sorted(Checkpoint.objects.values_list("tree_size", flat=True))


@pytest.fixture
def run_monitor(live_server, anvil, chain, alpine_admin, token_for, tmp_path, capsys):
    token = token_for(alpine_admin)["Authorization"].split()[1]

    def run(*extra: str) -> tuple[int, str]:
        from ledger.pinning import trust_root_document

        trust = tmp_path / "trust-root.json"
        trust.write_text(json.dumps(trust_root_document(contract=chain.address, chain_id=31337)))
        code = monitor.main(
            [
                "--rpc-url",
                anvil.url,
                "--trust-root",
                str(trust),
                "--portal",
                live_server.url,
                "--token",
                token,
                "--from-block",
                str(chain.block_number),
                *extra,
            ]
        )
        return code, capsys.readouterr().out

    return run


def test_it_finds_every_checkpoint_consistent(anchored_three_times, run_monitor, tmp_path):
    assert anchored_three_times == [2, 3, 4]
    state = tmp_path / "state.json"

    code, out = run_monitor("--state", str(state))

    assert code == monitor.EXIT_CONSISTENT, out
    assert out.startswith("3 checkpoint(s) checked, up to size 4 (")
    assert json.loads(state.read_text())["tree_size"] == 4
    # The next run starts after the remembered checkpoint: nothing new, still consistent.
    code, out = run_monitor("--state", str(state))
    assert code == monitor.EXIT_CONSISTENT
    assert out.startswith("0 checkpoint(s) checked, up to size 4")


def test_it_detects_a_fork(anchored_three_times, run_monitor, tmp_path):
    # The portal's database now holds another history (a restored backup, or an operator
    # showing different logs to different members): leaf 2 of the log is replaced.
    node = MerkleNode.objects.get(level=0, index=2)
    node.hash = node_hash(bytes(node.hash), bytes(node.hash))
    node.save()

    code, out = run_monitor("--state", str(tmp_path / "state.json"))

    assert code == monitor.EXIT_FORK_OR_GAP
    assert "fork: the portal's consistency proof from size 2 to size 3 does not verify" in out
    assert not (tmp_path / "state.json").exists()


def test_it_detects_a_root_the_chain_did_not_record(anchored_three_times, run_monitor):
    Checkpoint.objects.filter(tree_size=3).update(root=bytes(32))

    code, out = run_monitor()

    assert code == monitor.EXIT_FORK_OR_GAP
    assert "fork: the portal states roots" in out and f"{'00' * 32}" in out


def test_it_detects_a_gap(anchored_three_times, run_monitor):
    Checkpoint.objects.filter(tree_size=3).update(
        state=CheckpointState.FAILED
    )  # lost by the portal

    code, out = run_monitor()

    assert code == monitor.EXIT_FORK_OR_GAP
    assert "gap: the portal has no proof from size 2 to size 3" in out


def test_an_unreachable_portal_is_an_error_not_a_finding(
    anchored_three_times, anvil, tmp_path, chain, capsys
):
    from ledger.pinning import trust_root_document

    trust = tmp_path / "trust-root.json"
    trust.write_text(json.dumps(trust_root_document(contract=chain.address, chain_id=31337)))
    code = monitor.main(
        ["--rpc-url", anvil.url, "--trust-root", str(trust), "--portal", "http://127.0.0.1:9"]
    )
    assert code == monitor.EXIT_ERROR
    assert "cannot reach the portal" in capsys.readouterr().err
