"""Settings for the test suite: the real settings, with a fast password hasher (hashing cost
is not what the tests measure)."""

from portal.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = True  # passkey tests run over http://localhost
