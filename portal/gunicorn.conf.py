"""gunicorn settings for the portal's web processes (`gunicorn -c portal/gunicorn.conf.py`).

Threads per process share the process's database pool (DATABASE_POOL_MAX_SIZE), so the
database sees at most WEB_WORKERS x DATABASE_POOL_MAX_SIZE connections from the web, however
many clients connect.
"""

import os

bind = os.environ.get("WEB_BIND", "127.0.0.1:8000")
wsgi_app = "portal.wsgi:application"
workers = int(os.environ.get("WEB_WORKERS", "2"))
threads = int(os.environ.get("WEB_THREADS", "4"))
worker_class = "gthread"
# A slow client cannot hold a thread forever; long publications still fit.
timeout = int(os.environ.get("WEB_TIMEOUT", "60"))
keepalive = 5
# Bounded queue of waiting connections instead of an unbounded pile-up.
backlog = int(os.environ.get("WEB_BACKLOG", "256"))
accesslog = os.environ.get("WEB_ACCESS_LOG") or None
errorlog = "-"
# No control socket: several instances on one machine would fight over its default path.
control_socket_disable = True
