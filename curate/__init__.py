"""curate: raw online video -> training-ready text-to-video datasets (Ray Data DAG).

``stages/`` and ``schemas/`` live at the top of the repository (required layout) but are
imported as ``curate.stages`` and ``curate.schemas``. Installed wheels map them through the
build backend's ``package-dir``; from a source checkout (editable install, or
``ray job submit --working-dir .`` where the working dir's ``curate/`` shadows the installed
one) the repository root is added to this package's search path so the same names resolve.
"""

from __future__ import annotations

import os as _os

__version__ = "0.1.0"

_root = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if not _os.path.isdir(_os.path.join(_os.path.dirname(__file__), "stages")) and _os.path.isfile(
    _os.path.join(_root, "stages", "__init__.py")
):
    __path__.append(_root)  # type: ignore[name-defined]  # noqa: F821
