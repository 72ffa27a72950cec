"""``python -m qkd_macsec`` = the ``qkd-macsec`` command."""

from qkd_macsec.cli import main

main()
