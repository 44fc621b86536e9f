"""`python -m pipeline serve`: the runs' models over HTTP (a JSON API with micro-batching) and a page to try
them. `registry` loads what is served, `app` is the ASGI app, `batcher` gathers requests into model calls,
`guard` checks every request before it reaches an endpoint."""
