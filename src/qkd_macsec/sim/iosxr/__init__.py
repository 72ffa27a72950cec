"""A simulated Cisco IOS XR router: its own configuration model (candidate and running, the
native MACsec key-chain and interface-binding models and the unified MACsec policy model the
driver writes), NETCONF over SSH, its clock and zone, and MKA state from the shared link fabric.
"""
