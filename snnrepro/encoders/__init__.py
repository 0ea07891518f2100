"""snnrepro.encoders: every module here registers its factories on import."""

from snnrepro.plugins import import_submodules

import_submodules(__name__)
