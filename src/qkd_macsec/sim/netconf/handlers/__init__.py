"""RPC handlers, one module per family: configuration, IETF base operations, MKA/MACsec,
system and fact-gathering RPCs, and the CLI ``<command>`` RPC."""
