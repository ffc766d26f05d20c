"""Great Expectations Data Docs, as the validation step leaves them in each run's folder:
:mod:`.offline` makes a site render with no network (from the vendored libraries in ``vendor/``),
:mod:`.retention` deletes older runs' sites. The status page serves them (``status_page.data_docs``)."""
