"""smallfirst: an SLM-first model gateway and toolkit."""

__version__ = "0.1.0"
