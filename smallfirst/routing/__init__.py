"""Routers (rules, learned, random, fixed), calibration, metrics and the router benchmark."""
