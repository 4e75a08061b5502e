"""Check the audit trail: every hash, every seq, and every anchored head against the chain."""

from django.core.management.base import BaseCommand, CommandError

from portal.audit.services import verify_chain


class Command(BaseCommand):
    help = (
        "Recompute the audit trail's hash chain and verify its anchored heads on chain. "
        "Exits 0 when intact, 1 naming each seq that was edited, deleted or truncated."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--organisation",
            type=int,
            metavar="ID",
            help="rehash and count only this organisation's events (links, seq and anchors "
            "are still checked over the whole trail)",
        )
        parser.add_argument(
            "--trust-root",
            metavar="FILE",
            help="pin the contract, anchor senders and platform key with this trust root "
            "(default: AUDIT_PLATFORM_PUBLIC_KEY, LEDGER_SENDER_KEY and the contract in use)",
        )

    def handle(self, *args, **options) -> None:
        report = verify_chain(
            organisation_id=options["organisation"], trust_root_path=options["trust_root"]
        )
        if report.ok:
            self.stdout.write(report.summary())
            return
        for problem in report.problems:
            self.stderr.write(f"FAIL {problem}")
        raise CommandError(report.summary())
