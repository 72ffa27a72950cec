"""Observability: logging with the NOTICE level and secret redaction, RFC 5424 syslog. A leaf:
it imports nothing of the package but ``secret`` (metrics, which read the engine, are in
``report``)."""
