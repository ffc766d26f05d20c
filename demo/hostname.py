"""The host name a Celery worker of ``make services`` records on the task instances it runs.

Airflow records ``task_instance.hostname`` (the UI's "Hostname" of a task instance) from
``[core] hostname_callable``, by default the machine's FQDN: the same for every worker on one machine,
so two workers side by side would be indistinguishable. In services mode each worker is started with
``AIRFLOW__CORE__HOSTNAME_CALLABLE=demo.hostname.worker_hostname`` and its own name in
:data:`HOSTNAME_ENV` (see ``demo.environment.CELERY_WORKERS``).

The names are still names of this machine (``localhost``, ``127.0.0.1``), because the API server uses
the recorded name to reach a worker's log server while a task runs (``http://<hostname>:<[logging]
worker_log_server_port>/log/...``, next to the log file it reads itself from the shared log folder). A
made-up name would not resolve there.
"""

from __future__ import annotations

import os
import socket

HOSTNAME_ENV = "SPAPI_DEMO_WORKER_HOSTNAME"


def worker_hostname() -> str:
    """This worker's name from :data:`HOSTNAME_ENV`, else the machine's FQDN (Airflow's default)."""
    return os.environ.get(HOSTNAME_ENV) or socket.getfqdn()
