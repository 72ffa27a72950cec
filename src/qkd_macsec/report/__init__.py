"""Looking at what the controller did: the ``status`` table, the journal's timeline report, and the
Prometheus metrics of a running controller."""
