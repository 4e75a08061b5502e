"""The receipt verifier stands alone: it imports and verifies a receipt in a Python where
Django cannot be imported at all (the import-linter contract states the same statically)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

WITHOUT_DJANGO = """
import sys

class NoDjango:
    # Refuse these imports, as in a consumer's environment without them.
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("django", "rest_framework", "celery"):
            raise ImportError(f"{name} is not installed here")
        return None

sys.meta_path.insert(0, NoDjango())
try:
    import django  # noqa: F401
except ImportError:
    pass
else:
    raise SystemExit("django is importable: the test would prove nothing")

from ledger.verify import verify_item
from tests.ledger.test_verify import anchored, pinning, seal_in_log

sealed = seal_in_log()
checks = verify_item(
    sealed.obj, sealed.receipt, chain=anchored(sealed), trust_root=pinning(sealed)
)
failed = [check.name for check in checks if not check.ok]
print("verified" if not failed else f"failed: {failed}")
print(sorted(name for name in sys.modules if name.split(".")[0] == "django"))
"""


def test_the_verifier_runs_where_django_cannot_be_imported():
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_DJANGO],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["verified", "[]"], result.stdout
