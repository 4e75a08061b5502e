"""Start a throwaway anvil node for tests.

The binary comes from the npm package ``@foundry-rs/anvil`` and is run directly:
``npx`` would leave anvil orphaned (and holding its port) when terminated.
Set ``ANVIL_BIN`` to use another binary.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
ANVIL_BIN = Path(
    os.environ.get(
        "ANVIL_BIN",
        REPO_ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil",
    )
)
ANVIL_CHAIN_ID = 31337

# anvil's first well-known development account (from its default mnemonic);
# worthless outside a local dev chain.
ANVIL_DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ANVIL_DEV_ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
# The second dev account: funded, but not the deployer.
ANVIL_SECOND_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
ANVIL_SECOND_ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


@dataclass
class AnvilProcess:
    process: subprocess.Popen[bytes]
    port: int
    state_file: str | None
    log_path: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (anvil writes its --state file on the way out), then SIGKILL."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        Path(self.log_path).unlink(missing_ok=True)

    def __enter__(self) -> AnvilProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_anvil(
    port: int | None = None, state_file: str | None = None, *, startup_timeout: float = 20.0
) -> AnvilProcess:
    """Start anvil on 127.0.0.1 (chain id 31337) and wait until its RPC answers.

    With ``state_file`` the chain is loaded from and saved to that file every
    second, so a restart (even after SIGKILL) keeps almost everything.
    """
    if not ANVIL_BIN.exists():
        raise RuntimeError(f"anvil binary not found at {ANVIL_BIN}; run `npm install`")
    port = port or free_port()
    args = [
        str(ANVIL_BIN),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--chain-id",
        str(ANVIL_CHAIN_ID),
        "--quiet",
    ]
    if state_file is not None:
        args += ["--state", state_file, "--state-interval", "1"]
    log_fd, log_path = tempfile.mkstemp(prefix="anvil-", suffix=".log")
    with os.fdopen(log_fd, "wb") as log:
        process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    anvil = AnvilProcess(process=process, port=port, state_file=state_file, log_path=log_path)

    deadline = time.monotonic() + startup_timeout
    while not _answers(anvil.url):
        if process.poll() is not None or time.monotonic() > deadline:
            output = Path(log_path).read_text(errors="replace")
            anvil.stop()
            raise RuntimeError(f"anvil did not start on port {port}:\n{output}")
        time.sleep(0.05)
    return anvil


def _answers(url: str) -> bool:
    try:
        rpc(url, "eth_chainId", timeout=1)
    except (OSError, ValueError, RuntimeError):  # URLError is an OSError
        return False
    return True


def rpc(url: str, method: str, *params: object, timeout: float = 10.0) -> object:
    """One raw JSON-RPC call, for the anvil_*/evm_* methods web3 does not wrap."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
    request = urllib.request.Request(
        url, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        answer = json.load(response)
    if "error" in answer:
        raise RuntimeError(f"{method} failed: {answer['error']}")
    return answer["result"]
