"""Downloadable test files, generated at run time so that no malware-like bytes are committed.

Each file carries the run's canary, so the file-system oracle can recognise it wherever it lands,
and the markers that a sanitizer (無害化) must remove: a VBA project part, an EICAR-style test string,
PDF JavaScript.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

# The EICAR anti-malware test string, joined at run time so this source file never holds it whole.
_EICAR_PARTS = ("X5O!P%@AP[4\\PZX54(P^)7CC)7}$", "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*")
DANGER_MARKERS: dict[str, bytes] = {
    "vba-project": b"word/vbaProject.bin",
    "eicar": b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE",
    "pdf-javascript": b"/JavaScript",
}


@dataclass(frozen=True)
class TestFile:
    name: str
    content_type: str
    body: bytes


def _text(canary: str) -> bytes:
    return f"conformance test download / ダウンロード試験\ncanary: {canary}\n".encode()


def _pdf(canary: str) -> bytes:
    # A small, valid PDF with a text page and an OpenAction JavaScript (what 無害化 must strip).
    stream = f"BT /F1 18 Tf 40 760 Td ({canary}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R /OpenAction 5 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 6 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /S /JavaScript /JS (app.alert('conformance test');) >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def _docm(canary: str) -> bytes:
    # An OOXML container with a VBA project part; the "macro" is inert text, never executable code.
    content_types = (
        '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        'content-types"><Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>'
        '<Override PartName="/word/document.xml" ContentType="application/vnd.ms-word.document.macroEnabled'
        '.main+xml"/></Types>'
    )
    document = (
        '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
        f'wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>{canary}</w:t></w:r></w:p></w:body></w:document>'
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("[Content_Types].xml", content_types)
        archive.writestr("word/document.xml", document)
        archive.writestr("word/vbaProject.bin", f"inert test macro part {canary}")
    return buffer.getvalue()


def _eicar(canary: str) -> bytes:
    return ("".join(_EICAR_PARTS) + f"\r\ncanary: {canary}\r\n").encode()


_MAKERS = {
    "canary.txt": ("text/plain; charset=utf-8", _text),
    "report.pdf": ("application/pdf", _pdf),
    "macro.docm": ("application/vnd.ms-word.document.macroEnabled.12", _docm),
    "eicar.com.txt": ("application/octet-stream", _eicar),
}
FILE_NAMES: tuple[str, ...] = tuple(_MAKERS)


def make_file(name: str, canary: str) -> TestFile:
    content_type, maker = _MAKERS[name]
    return TestFile(name, content_type, maker(canary))


def danger_markers_in(body: bytes) -> list[str]:
    """Which sanitization markers a landed file still carries (empty = looks sanitized)."""
    return [label for label, marker in DANGER_MARKERS.items() if marker in body]
