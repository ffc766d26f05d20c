"""The catalog stages: read a seller's catalog (:mod:`.extract`), prove its rows right
(:mod:`.validation`), and turn them into listing messages (:mod:`.mapping` says how,
:mod:`.transform` does it, :mod:`.schema_cache` holds Amazon's product-type schemas).
:mod:`.steps` runs them as DAG steps."""
