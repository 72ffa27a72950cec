"""A simulated Cisco NX-OS switch: its own configuration model (MACsec key chains, macsec
policies, interface bindings, the clock zone), NX-API configuration sessions, JSON-RPC over
HTTPS, its clock in its own zone, and MKA state from the shared link fabric.
"""
