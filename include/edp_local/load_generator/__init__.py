"""Synthetic web and mobile traffic for the ingest API.

Sessions of simulated shoppers on web, iOS and Android walk realistic funnels (views, clicks,
add-to-cart, purchase, sign-ups, app errors) over the shipped product catalog. On top of that the
plan injects what real clients do: retries that re-send an ``event_id``, late (offline-queued)
sessions, out-of-order sends and invalid events of several kinds. The sender posts batches at a
fixed rate and reports what the API accepted, plus the ids that must end up on the stream.
"""
