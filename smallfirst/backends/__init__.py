"""Backends: one module per wire protocol, each exposing ``from_config(cfg) -> Backend``.

Modules are named in :mod:`smallfirst.config.registry` and imported only when configured, so
nothing here imports a backend eagerly.
"""
