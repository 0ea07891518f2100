"""snnrepro.losses: every module here registers its losses (``LOSSES``) on import."""

from snnrepro.plugins import import_submodules

import_submodules(__name__)
