"""Settings for the test suite: the real settings, with a fast password hasher (hashing cost
is not what the tests measure)."""

import os

# The test suite is a development environment, said explicitly (the settings give development
# defaults to nothing else); DEBUG stays off as in a deployment. Subprocesses (the Celery
# worker, the live server) inherit both.
os.environ.setdefault("PORTAL_ENV", "development")
os.environ.setdefault("DEBUG", "false")

from portal.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = True  # passkey tests run over http://localhost
