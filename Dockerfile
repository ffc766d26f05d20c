# The image every service of docker-compose.yaml runs: Airflow's official image, the project's pinned
# working set, and this repository installed in place at /opt/airflow (AIRFLOW_HOME), so that the code
# finds include/ next to plugins/ exactly as it does in a clone.
#
#   docker compose build            (or: docker build -t spapi-listings-airflow .)
#
# The tag's Airflow version must equal the apache-airflow pin in requirements.txt, and its Python the
# one `make install` uses (tests/deploy/test_compose.py checks the first).
FROM apache/airflow:3.3.2-python3.11

# State directory of the sandbox service (a named volume is mounted here). Group 0 and group-writable,
# like the rest of the image, so that any AIRFLOW_UID (always with GID 0) can write to it.
USER root
RUN mkdir -p /opt/sandbox-data \
    && chown airflow:0 /opt/sandbox-data \
    && chmod 2775 /opt/sandbox-data
USER airflow

# Dependencies first: this layer is rebuilt only when requirements.txt changes. Test and lint tools
# (pytest and its plugins, moto, ruff, mypy, type stubs, selenium) are left out; a test tool missing
# from this list only makes the image larger, and a runtime package that needs an excluded one still
# gets it from pip. apache-airflow is named again (the image's own version) so that pip never moves
# it, as https://airflow.apache.org/docs/docker-stack/build.html recommends.
COPY --chown=airflow:0 requirements.txt /tmp/requirements.txt
RUN grep -vE '^(pytest[a-z0-9-]*|moto|ruff|mypy|selenium)([=<>~!\[ ]|$)|^types-' \
        /tmp/requirements.txt > /tmp/requirements-runtime.txt \
    && pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r /tmp/requirements-runtime.txt

# The project: the packages (plugins/spapi, plugins/listings_pipeline, sandbox), the DAGs and include/.
# Editable on purpose: the code locates include/ and var/ relative to its own files, so it must run
# from /opt/airflow/plugins, not from a copy in site-packages. docker-compose.yaml bind-mounts dags/,
# plugins/ and include/ over these copies for development; without the mounts the image is complete.
WORKDIR /opt/airflow
COPY --chown=airflow:0 pyproject.toml README.md /opt/airflow/
COPY --chown=airflow:0 plugins/ /opt/airflow/plugins/
COPY --chown=airflow:0 sandbox/ /opt/airflow/sandbox/
COPY --chown=airflow:0 include/ /opt/airflow/include/
COPY --chown=airflow:0 dags/ /opt/airflow/dags/
# The local SQS's queue setup (docker-compose.yaml's sqs-init: python -m demo.local_sqs), the only
# part of the demo the services run.
COPY --chown=airflow:0 demo/__init__.py demo/local_sqs.py /opt/airflow/demo/
RUN pip install --no-cache-dir -e /opt/airflow \
    && mkdir -p /opt/airflow/var \
    && chmod -R g+rwX /opt/airflow/var
