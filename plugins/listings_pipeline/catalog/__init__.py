"""The catalog stages: read a seller's catalog (:mod:`.extract`), prove its rows right
(:mod:`.validation` runs the Great Expectations suite that :mod:`.suite` generates from the mapping
and :mod:`.content_policy`), and turn them into listing messages (:mod:`.mapping` says how, each
transform kind in :mod:`.specs` knows its own part, :mod:`.transform` does it, :mod:`.schema_cache`
holds Amazon's product-type schemas). :mod:`.steps` runs them as DAG steps."""
