"""Delivery channels of one shape: a Transport per kind (inbox, email, webhook), one error type
with a `permanent` flag (`base.TransportError`), and a registry from kind to class
(`registry.TRANSPORTS`). Every attempt on every channel is stored as a row: the inbox entry
itself (`Delivery`), `EmailAttempt`, `WebhookAttempt`.

The kinds live in their own modules and the registry imports them, so a channel's service
(e.g. sharing.services.webhooks) can import `base` without importing itself back.
"""
