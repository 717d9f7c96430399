from tests.integration.gateway.conftest import gateway  # noqa: F401  (the real-gateway fixture)
