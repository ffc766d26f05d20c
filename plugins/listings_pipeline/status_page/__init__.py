"""The listing status page: a read-only view of the warehouse for operators, inside the Airflow UI.

- :mod:`.queries`: the reads (SQLAlchemy 2, no Airflow), returning :mod:`.schemas` models; the
  Runs and Quarantine sections' in :mod:`.runs` and :mod:`.quarantine`;
- :mod:`.scope`: the seller and marketplace filter every section applies;
- :mod:`.csv_export`: the quarantine as a CSV safe to open in a spreadsheet;
- :mod:`.data_docs`: which files of a run's Great Expectations Data Docs may be served, and the
  runs' sites the Runs section links;
- :mod:`.chart`: the charts as server-side SVG;
- :mod:`.replay_runs`: picked dead letters -> ``dead_letter_replay`` run configurations;
- :mod:`.trigger`: creating those runs in the api-server, and reading runs' states (Airflow);
- :mod:`.app`: the FastAPI app (HTML page and JSON API), every route behind Airflow's authentication;
- :mod:`.plugin`: the ``AirflowPlugin`` (entry point ``airflow.plugins``) that mounts it at
  ``/listing-status`` and links it from the UI's *Browse* menu.
"""
