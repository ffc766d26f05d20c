"""The paths to Amazon and back: feeds (:mod:`.bulk`, submitted once through :mod:`.publish`),
the Listings Items API for small change sets and hotfixes (:mod:`.per_sku`), price and stock
(:mod:`.offers`, patches from :mod:`.offer_patches`), dead-letter replay (:mod:`.replay`), and what
earlier runs left with Amazon (:mod:`.stale_feeds`, :mod:`.reconcile`, :mod:`.settle`)."""
