"""The listing status page: a read-only view of the warehouse for operators, inside the Airflow UI.

- :mod:`.queries`: the reads (SQLAlchemy 2, no Airflow), returning :mod:`.schemas` models;
- :mod:`.chart`: the charts as server-side SVG;
- :mod:`.replay_runs`: picked dead letters -> ``dead_letter_replay`` run configurations;
- :mod:`.trigger`: creating those runs in the api-server (Airflow);
- :mod:`.app`: the FastAPI app (HTML page and JSON API), every route behind Airflow's authentication;
- :mod:`.plugin`: the ``AirflowPlugin`` (entry point ``airflow.plugins``) that mounts it at
  ``/listing-status`` and links it from the UI's *Browse* menu.
"""
