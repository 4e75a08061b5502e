from django.core.management.base import BaseCommand, CommandError

from ledger.chain import ChainError
from ledger.services import deploy_anchor_contract_if_needed


class Command(BaseCommand):
    help = "Deploy the anchor registry contract on LEDGER_RPC_URL, unless it is already there."

    def handle(self, *args, **options) -> None:
        try:
            deployment, new = deploy_anchor_contract_if_needed()
        except ChainError as exc:
            raise CommandError(str(exc)) from None
        verb = "Deployed" if new else "Reusing"
        self.stdout.write(
            f"{verb} anchor registry {deployment.address} on chain {deployment.chain_id} "
            f"(block {deployment.block_number})"
        )
