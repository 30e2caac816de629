"""Copy from an uploaded file, for the console's compliance page: a .txt or a .docx.

Anyone signed in can upload anything, so every step is bounded before it is trusted: the
body (the form's size limit), the parts the zip says it unpacks to (a zip bomb declares
its sizes, and `zipfile` never unpacks past what it declared), and the characters kept.
Every refusal is an `UploadError` whose `why` the page words; nothing here raises past it.
"""

from __future__ import annotations

import io
import zipfile
from email import policy
from email.parser import BytesParser
from pathlib import PurePosixPath

import docx
from docx.document import Document
from docx.table import Table

MAX_UNPACKED_BYTES = 32 * 1024 * 1024  # all parts of a .docx, as its zip declares them
MAX_ZIP_ENTRIES = 2000
TEXT_ENCODINGS = ("utf-8-sig", "gb18030")  # what copywriters' .txt files are saved as


class UploadError(Exception):
    """Why an upload cannot be checked: a key of `messages` in words.yaml."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def uploaded_fields(content_type: str, body: bytes) -> dict[str, tuple[str, bytes]]:
    """A multipart/form-data body's fields: name → (file name, bytes)."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise UploadError("no_file")
    head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1", "replace")
    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    fields: dict[str, tuple[str, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and name not in fields:
            data = payload if isinstance(payload, bytes) else b""
            fields[name] = (part.get_filename() or "", data)
    return fields


def copy_from_file(name: str, data: bytes) -> str:
    """The text of a .txt or .docx file, by its extension (what the person chose)."""
    suffix = PurePosixPath(name.replace("\\", "/")).suffix.lower()
    if not name or not data:
        raise UploadError("no_file")
    if suffix == ".txt":
        text = _decoded(data)
    elif suffix == ".docx":
        text = _docx_text(data)
    else:
        raise UploadError("wrong_type")
    if not text.strip():
        raise UploadError("no_text")
    return text


def _decoded(data: bytes) -> str:
    for encoding in TEXT_ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UploadError("not_text")


def _docx_text(data: bytes) -> str:
    """The paragraphs and table cells of a .docx, in document order, one a line."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as packed:
            entries = packed.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise UploadError("not_docx") from None
    if len(entries) > MAX_ZIP_ENTRIES or sum(e.file_size for e in entries) > MAX_UNPACKED_BYTES:
        raise UploadError("unpacked_too_big")
    try:
        document = docx.Document(io.BytesIO(data))
        return "\n".join(_lines(document))
    # python-docx raises whatever its zip, XML and part readers raise on a broken package
    # (KeyError, ValueError, lxml's errors, its own); every one means "not a .docx we read"
    except Exception:
        raise UploadError("not_docx") from None


def _lines(document: Document) -> list[str]:
    lines: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            lines.extend(cell.text for row in block.rows for cell in row.cells)
        else:
            lines.append(block.text)
    return lines
