"""Observability: logging with the NOTICE level and secret redaction; metrics."""
