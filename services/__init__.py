"""Namespace for the services folder, so that its shared test helpers import as `services.conftest`."""
