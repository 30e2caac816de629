"""The console's copy check: copy pasted, or the copy of an uploaded .txt or .docx
(`monitor.web.upload`), checked for advertising-law terms and marked in place."""

from __future__ import annotations

from typing import Any, ClassVar, cast

from aiohttp import web
from faust.web import Request, Response

from monitor.casework.cases import ActionError
from monitor.web.api import MAX_COPY_CHARS, MAX_HITS, CopyCheck, read_body
from monitor.web.page import FORM_BYTES, Page
from monitor.web.sessions import Visitor
from monitor.web.upload import UploadError, copy_from_file, uploaded_fields


class Compliance(Page):
    check: ClassVar[CopyCheck]  # this worker's (`routes.add_page`)

    async def get(self, request: Request) -> Response:
        visitor = self.signed_in(request)
        return self.page(request, "compliance.html", visitor=visitor, text="", result=None,
                         csrf=self.console.csrf(visitor))  # fmt: skip

    async def post(self, request: Request) -> Response:
        visitor, form = await self.signed_form(request)
        template = "compliance_result.html" if form.get("fragment") else "compliance.html"
        return await self.checked(request, template, visitor, form.get("text", ""))

    async def checked(self, request: Request, template: str, visitor: Visitor, text: str,
                      **upload: Any) -> Response:  # fmt: skip
        """The copy (its first MAX_COPY_CHARS) checked and marked in place."""
        text = text[:MAX_COPY_CHARS]
        result = await self.check.offload.run(
            lambda: self.check.checker.check(text, limit=MAX_HITS)
        )
        self.check.count(result.result)
        return self.page(request, template, visitor=visitor, text=text, result=result,
                         marked=_marked(text, result.hits), csrf=self.console.csrf(visitor),
                         **upload)  # fmt: skip


class ComplianceFile(Compliance):
    async def get(self, request: Request) -> Response:
        return self.go(request, f"{self.console.base}/compliance")

    async def post(self, request: Request) -> Response:
        """A .txt or .docx file's copy checked like pasted copy; a file that cannot be
        read is said on the page (`UploadError`), never a server error."""
        visitor = self.console.visitor(request)
        if visitor is None or not visitor.signed_in:
            raise ActionError(403, "sign in first")
        try:
            name, text = await self.uploaded(request, visitor)
        except UploadError as error:
            status = 413 if error.why == "too_big" else 400
            return self.page(request, "compliance.html", status, visitor=visitor, text="",
                             result=None, csrf=self.console.csrf(visitor),
                             upload={"error": error.why})  # fmt: skip
        upload = {"name": name, "chars": len(text), "cut": len(text) > MAX_COPY_CHARS}
        return await self.checked(request, "compliance.html", visitor, text, upload=upload)

    async def uploaded(self, request: Request, visitor: Visitor) -> tuple[str, str]:
        """The file's name and text, read once the form is known to be one of ours."""
        try:
            body = await read_body(request, FORM_BYTES)
        except ActionError:
            raise UploadError("too_big") from None
        kind = cast(web.Request, request).headers.get("Content-Type", "")
        fields = await self.check.offload.run(lambda: uploaded_fields(kind, body))
        csrf = fields.get("csrf", ("", b""))[1].decode("utf-8", "replace")
        if not self.console.form_is_ours(request, visitor, {"csrf": csrf}):
            raise ActionError(403, "the form has expired or came from another site")
        name, data = fields.get("file", ("", b""))
        return name, await self.check.offload.run(lambda: copy_from_file(name, data))


def _marked(text: str, hits: Any) -> list[tuple[str, Any]]:
    """The copy cut into plain parts and hits, in order: (text, hit or None)."""
    parts: list[tuple[str, Any]] = []
    at = 0
    for hit in sorted(hits, key=lambda h: h.start):
        if hit.start < at:
            continue
        parts.append((text[at : hit.start], None))
        parts.append((text[hit.start : hit.end], hit))
        at = hit.end
    parts.append((text[at:], None))
    return parts
