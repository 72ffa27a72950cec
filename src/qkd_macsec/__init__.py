"""qkd-macsec: QKD keys (ETSI GS QKD 014) as MACsec static CAK/CKN, rotated hitlessly."""

__version__ = "0.1.0"
