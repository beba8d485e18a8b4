"""The HTTP API and the dashboard (`newsingest serve`)."""

from newsingest.web.app import create_app

__all__ = ["create_app"]
