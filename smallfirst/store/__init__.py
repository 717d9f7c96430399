"""L2: the request log behind the Store protocol."""
