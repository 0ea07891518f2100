"""snnrepro.data: every module here and in its sub-packages registers its factories on import.

``base``, ``fetch`` and ``loading`` are shared; the sources live in rooms by kind: ``vision``,
``events``, ``audio``, ``synthetic`` and the smoke profile's ``standins``.
"""

from snnrepro.plugins import import_submodules

import_submodules(__name__)
