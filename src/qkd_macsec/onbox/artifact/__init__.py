"""The on-box runtime: the modules bundled into the Junos event/op script.

Every module here imports only what Junos's own Python 3 offers (standard library, ``jnpr.junos``,
``lxml``, ``requests``, ``jcs``) plus sibling modules of this package through
``from qkd_macsec.onbox.artifact.<module> import ...`` lines, which the bundler strips. The
bundler (``qkd_macsec.onbox.build``) enforces both rules; keep top-level names unique across
modules, since the bundle is one namespace.
"""
