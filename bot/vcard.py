"""Just enough vCard (2.1, 3.0, 4.0) to log a contact card shared from a phone.

Phones export vCard 2.1 with quoted-printable values for non-ASCII names (Android) and 3.0
or 4.0 with backslash escapes (iOS, desktop clients); both are read here.
"""

from __future__ import annotations

import quopri
import re
from dataclasses import dataclass

_UNESCAPE = re.compile(r"\\(.)", re.DOTALL)
_SPLIT = re.compile(r"(?<!\\);")


@dataclass(frozen=True, slots=True)
class VCard:
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    company: str | None = None
    title: str | None = None


def parse_vcard(text: str) -> VCard:
    """The first name, phone, e-mail, organisation and title found in `text`."""
    found: dict[str, list[str]] = {}
    for line in _unfolded(text):
        head, sep, value = line.partition(":")
        if not sep:
            continue
        name, *params = head.split(";")
        name = name.rsplit(".", 1)[-1].upper()  # "item1.EMAIL" -> "EMAIL"
        if name in found:
            continue
        found[name] = _values(value, [p.upper() for p in params])
    full_name = _first(found.get("FN"))
    if full_name is None and "N" in found:
        # N is "family;given;additional;prefix;suffix".
        family, given = ([*found["N"], "", ""])[:2]
        full_name = " ".join(part for part in (given, family) if part.strip()) or None
    phone = _first(found.get("TEL"))
    return VCard(
        name=full_name,
        phone=phone.removeprefix("tel:") if phone else None,  # vCard 4: a tel: URI
        email=_first(found.get("EMAIL")),
        company=_first(found.get("ORG")),
        title=_first(found.get("TITLE")),
    )


def _unfolded(text: str) -> list[str]:
    """Logical lines: a folded line continues with a leading space or tab (RFC 6350), and a
    quoted-printable line ending in "=" continues on the next one (vCard 2.1)."""
    lines: list[str] = []
    continues = False
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if lines and (continues or raw[:1] in (" ", "\t")):
            lines[-1] = lines[-1][:-1] + raw if continues else lines[-1] + raw[1:]
        else:
            lines.append(raw)
        continues = "QUOTED-PRINTABLE" in lines[-1].upper() and lines[-1].endswith("=")
    return lines


def _values(value: str, params: list[str]) -> list[str]:
    if "ENCODING=QUOTED-PRINTABLE" in params or "QUOTED-PRINTABLE" in params:
        charset = next((p.split("=", 1)[1] for p in params if p.startswith("CHARSET=")), "UTF-8")
        try:
            value = quopri.decodestring(value.encode("ascii", "replace")).decode(charset)
        except (LookupError, UnicodeDecodeError):
            value = quopri.decodestring(value.encode("ascii", "replace")).decode("latin-1")
    return [_UNESCAPE.sub(_unescape, part).strip() for part in _SPLIT.split(value)]


def _unescape(match: re.Match[str]) -> str:
    char = match.group(1)
    return "\n" if char in "nN" else char


def _first(values: list[str] | None) -> str | None:
    """The first non-empty component (ORG's is the company; its units follow)."""
    return next((value for value in values or () if value), None)
