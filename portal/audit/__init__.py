"""The audit trail: an append-only, hash-chained record of security-relevant actions.

Its models belong to the `portal` app (portal/models.py imports them); see docs/audit.md.
"""
