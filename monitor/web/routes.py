"""Views added to one app with what they need."""

from __future__ import annotations

import faust
from faust.web import View


def add_page(app: faust.App, path: str, view: type[View], **needs: object) -> None:
    """`view` at `path`, as a subclass whose class attributes are `needs`: faust makes a
    view from its class alone, and each app (each worker) has its own console and cases.
    A need is an object, never a plain function, which the class would bind as a method."""
    app.page(path)(type(view.__name__, (view,), needs))
