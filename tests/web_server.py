"""The portal served by gunicorn, as in a deployment, on the test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.anvil import free_port

ROOT = Path(__file__).resolve().parent.parent
# What the web's database connections call themselves (pg_stat_activity.application_name).
APPLICATION_NAME = "portal-web"


@dataclass
class WebServer:
    process: subprocess.Popen
    url: str
    log: Path

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> WebServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_gunicorn(*, log: Path, queue: str, **env: str) -> WebServer:
    """Start gunicorn (portal/gunicorn.conf.py) on a free port against the test database
    (settings.DATABASES, as pytest-django set it up), sending tasks to the Celery `queue`,
    and wait until it answers."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    port = free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": (
            f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:"
            f"{database['PORT'] or 5432}/{database['NAME']}?application_name={APPLICATION_NAME}"
        ),
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DEBUG": "false",
        "WEB_BIND": f"127.0.0.1:{port}",
        "WEB_ACCESS_LOG": "-",
        "CELERY_QUEUE": queue,
        **env,
    }
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "portal/gunicorn.conf.py"],
            cwd=ROOT,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            requests.get(f"{url}/api/health/", timeout=30)
            break
        except requests.RequestException:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"gunicorn did not start:\n{log.read_text()[-3000:]}") from None
            time.sleep(0.2)
    return WebServer(process=process, url=url, log=log)
