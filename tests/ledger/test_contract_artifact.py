"""The committed AnchorRegistry.json is exactly what compile.js makes of the source."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ledger.chain import ARTIFACT_PATH, load_artifact

REPO_ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = REPO_ROOT / "ledger" / "contracts"
COMPILE_JS = CONTRACTS / "compile.js"
SOURCE = CONTRACTS / "AnchorRegistry.sol"


def compile_js(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["node", str(COMPILE_JS), *map(str, args)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_committed_artifact_is_up_to_date() -> None:
    result = compile_js("--check")

    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout


def test_the_artifact_describes_the_registry() -> None:
    artifact = load_artifact()

    assert ARTIFACT_PATH == CONTRACTS / "AnchorRegistry.json"
    assert artifact["contractName"] == "AnchorRegistry"
    assert artifact["evmVersion"] == "prague"
    assert artifact["optimizer"] == {"enabled": True, "runs": 200}
    assert artifact["bytecode"].startswith("0x6")
    names = {item.get("name") for item in artifact["abi"]}
    assert {"owner", "latestSize", "rootAt", "anchoredAt", "anchor", "CheckpointAnchored"} <= names
    event = next(item for item in artifact["abi"] if item.get("name") == "CheckpointAnchored")
    assert [i["name"] for i in event["inputs"]] == ["treeSize", "root", "timestamp"]


def test_recompiling_is_byte_identical(tmp_path: Path) -> None:
    first, second = tmp_path / "first.json", tmp_path / "second.json"

    assert compile_js("--artifact", first).returncode == 0
    assert compile_js("--artifact", second).returncode == 0

    assert first.read_bytes() == second.read_bytes() == ARTIFACT_PATH.read_bytes()
    assert first.read_text().endswith("}\n")


def test_a_changed_source_does_not_match(tmp_path: Path) -> None:
    source = tmp_path / "AnchorRegistry.sol"
    source.write_text(
        SOURCE.read_text().replace('"AnchorRegistry: empty root"', '"AnchorRegistry: no root"')
    )
    assert source.read_text() != SOURCE.read_text()

    result = compile_js("--check", "--source", source, "--artifact", ARTIFACT_PATH)

    assert result.returncode == 1
    assert "does not match" in result.stderr


def test_an_unchanged_copy_of_the_source_matches(tmp_path: Path) -> None:
    source = tmp_path / "AnchorRegistry.sol"
    shutil.copy(SOURCE, source)

    result = compile_js("--check", "--source", source, "--artifact", ARTIFACT_PATH)

    assert result.returncode == 0, result.stderr


def test_a_compile_error_fails(tmp_path: Path) -> None:
    source = tmp_path / "AnchorRegistry.sol"
    source.write_text(SOURCE.read_text().replace("latestSize = treeSize;", "latestSize = ;"))
    artifact = tmp_path / "out.json"

    result = compile_js("--source", source, "--artifact", artifact)

    assert result.returncode == 1
    assert "ParserError" in result.stderr
    assert not artifact.exists()


def test_a_missing_artifact_fails_the_check(tmp_path: Path) -> None:
    result = compile_js("--check", "--artifact", tmp_path / "missing.json")

    assert result.returncode == 1
    assert "cannot read" in result.stderr
