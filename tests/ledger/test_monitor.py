"""The monitor follows the checkpoints on a real chain and checks the portal's proofs through
its real API (live server), the way a member organisation runs it from cron."""

import json

import pytest

from ledger import monitor
from ledger.merkle import node_hash
from ledger.models import Checkpoint, CheckpointState, MerkleNode
from tests import stix_samples
from tests.sharing.test_pipeline import anchor_key_directory, publish, run_pipeline

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def anchored_three_times(chain, trust_group, publisher):
    """The key directory's entries (the creation of each portal-held key) in checkpoints of
    their own, then three publications of 2, 1 and 1 objects: returns the size before them.

    The key directory may take more than one checkpoint: these tests commit, so the session's
    Celery worker may anchor the first keys' entries while the fixtures still create others."""
    base = anchor_key_directory()
    assert Checkpoint.objects.filter(tree_size=base, state=CheckpointState.CONFIRMED).exists()
    run_pipeline(publish(publisher))
    run_pipeline(publish(publisher, bundle=stix_samples.bundle(stix_samples.indicator())))
    run_pipeline(publish(publisher, bundle=stix_samples.bundle(stix_samples.indicator())))
    made = Checkpoint.objects.filter(tree_size__gt=base)
    assert sorted(made.values_list("tree_size", flat=True)) == [base + 2, base + 3, base + 4]
    return base


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
    last = anchored_three_times + 4
    # The key directory's checkpoints and the three publications'.
    anchored = Checkpoint.objects.filter(state=CheckpointState.CONFIRMED).count()
    assert anchored >= 4
    state = tmp_path / "state.json"

    code, out = run_monitor("--state", str(state))

    assert code == monitor.EXIT_CONSISTENT, out
    assert out.startswith(f"{anchored} checkpoint(s) checked, up to size {last} (")
    assert json.loads(state.read_text())["tree_size"] == last
    # The next run starts after the remembered checkpoint: nothing new, still consistent.
    code, out = run_monitor("--state", str(state))
    assert code == monitor.EXIT_CONSISTENT
    assert out.startswith(f"0 checkpoint(s) checked, up to size {last}")


def test_it_detects_a_fork(anchored_three_times, run_monitor, tmp_path):
    # The portal's database now holds another history (a restored backup, or an operator
    # showing different logs to different members): the leaf after the second checkpoint is
    # replaced.
    base = anchored_three_times
    node = MerkleNode.objects.get(level=0, index=base + 2)
    node.hash = node_hash(bytes(node.hash), bytes(node.hash))
    node.save()

    code, out = run_monitor("--state", str(tmp_path / "state.json"))

    assert code == monitor.EXIT_FORK_OR_GAP
    assert (
        f"fork: the portal's consistency proof from size {base + 2} to size {base + 3} does "
        f"not verify" in out
    )
    assert not (tmp_path / "state.json").exists()


def test_it_detects_a_root_the_chain_did_not_record(anchored_three_times, run_monitor):
    Checkpoint.objects.filter(tree_size=anchored_three_times + 3).update(root=bytes(32))

    code, out = run_monitor()

    assert code == monitor.EXIT_FORK_OR_GAP
    assert "fork: the portal states roots" in out and f"{'00' * 32}" in out


def test_it_detects_a_gap(anchored_three_times, run_monitor):
    base = anchored_three_times
    Checkpoint.objects.filter(tree_size=base + 3).update(
        state=CheckpointState.FAILED
    )  # lost by the portal

    code, out = run_monitor()

    assert code == monitor.EXIT_FORK_OR_GAP
    assert f"gap: the portal has no proof from size {base + 2} to size {base + 3}" in out


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
