"""NETCONF over SSH for the Junos simulator: framing, XML replies, RPC handlers, SSH server."""
