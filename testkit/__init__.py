"""Test and soak tooling that does not ship: the chaos driver (``make chaos``, ``tests/chaos``)
and the on-box harness (``tests/integration/onbox``). Not installed with the package; the
runtime never imports it (``tests/unit/test_layers.py`` holds it to that)."""
