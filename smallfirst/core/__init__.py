"""L0: types, errors and protocols. No I/O, no heavy imports."""
