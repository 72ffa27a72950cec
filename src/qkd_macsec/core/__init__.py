"""The rotation rules every end follows, off-box and on-box alike, in one copy.

Standard library only and importable on Junos's own Python: the engine imports these modules,
and the on-box bundler copies the very same files into the event script. No re-exports: import
from the module that owns a rule (``qkd_macsec.core.slots``, ``.schedule``, ``.derive``, ...).
"""
