"""snnrepro.analyses: every module here registers its analyses (``ANALYSES``) on import."""

from snnrepro.plugins import import_submodules

import_submodules(__name__)
