"""A file people send to import, as a header and rows of text: CSV, XLSX or vCard.

CSV comes as Excel and the other CRMs write it: UTF-8 with or without a byte order mark,
UTF-16 with a BOM and tabs (Excel's "Unicode text"), or cp1252 (Excel's "CSV" on a
western Windows); the delimiter (`,` `;` or tab) is sniffed from the first lines. XLSX is
read by calamine, which returns what the cells hold (a formula's last computed value,
never the formula, which is never run); a merged range's value is in its first cell only.
A `.vcf` holds one card or many (a phone's "export contacts"), read with bot.vcard's
parser, so Android's quoted-printable names come out right.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import BinaryIO

from handlers.errors import UsageError
from handlers.grammar import normalize

# What a cell may hold at most, like the longest field a command takes (a note).
MAX_CELL = 4000
VCARD_COLUMNS = ("Name", "Phone", "E-mail", "Company", "Title")
_DELIMITERS = ",;\t"
_CARD = re.compile(r"BEGIN:VCARD.*?END:VCARD", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True, slots=True)
class Row:
    line: int  # as a spreadsheet numbers it: the header is line 1
    cells: tuple[str, ...]


@dataclass
class Sheet:
    header: tuple[str, ...]
    rows: list[Row]
    kind: str  # "csv", "xlsx", "vcf"
    encoding: str = ""
    delimiter: str = ""


def read_sheet(filename: str, content: bytes, *, max_rows: int) -> Sheet:
    """The file's header and rows, every cell normalised text; a clear refusal for a file
    that is none of the kinds read here, or has more than `max_rows` rows."""
    kind = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if kind == "xlsx" or content[:4] == b"PK\x03\x04":
        sheet = _xlsx(content, max_rows)
    elif kind == "vcf" or content.lstrip()[:11].upper() == b"BEGIN:VCARD":
        sheet = _vcards(_decode(content)[0], max_rows)
    elif kind in ("csv", "tsv", "txt", ""):
        sheet = _csv(content, max_rows)
    else:
        raise UsageError(
            f"I can't import a .{kind} file. Send a CSV, an Excel workbook (.xlsx) or "
            "contact cards (.vcf)."
        )
    if not sheet.rows:
        raise UsageError("The file has a header but no rows to import.")
    return sheet


def _decode(content: bytes) -> tuple[str, str]:
    """The text and the encoding it was in."""
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if content.startswith(bom):
            return content.decode(encoding, errors="replace"), encoding
    # UTF-16 without a BOM: every other byte of Latin text is NUL.
    sample = content[:2000]
    if sample and sample.count(0) > len(sample) // 4:
        encoding = "utf-16-le" if sample[1::2].count(0) > sample[::2].count(0) else "utf-16-be"
        return content.decode(encoding, errors="replace"), encoding
    try:
        return content.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        # Excel on a western Windows; cp1252 leaves five bytes undefined, kept as U+FFFD.
        return content.decode("cp1252", errors="replace"), "cp1252"


def _csv(content: bytes, max_rows: int) -> Sheet:
    text, encoding = _decode(content)
    delimiter = _delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            raise UsageError("The file is empty: its first line should name the columns.")
        rows: list[Row] = []
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            if len(rows) == max_rows:
                raise _too_many(max_rows)
            rows.append(Row(reader.line_num, tuple(_cell(c) for c in cells)))
    except csv.Error as error:
        line = reader.line_num
        raise UsageError(f"Line {line} of the file is not valid CSV: {error}.") from None
    return Sheet(tuple(_cell(h) for h in header), rows, "csv", encoding, delimiter)


def _delimiter(text: str) -> str:
    """`,` `;` or tab, whichever the first lines agree on (csv.Sniffer), else whichever the
    header line has most of."""
    head = "\n".join(text[:20000].splitlines()[:20])
    try:
        return csv.Sniffer().sniff(head, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        first = head.split("\n", 1)[0]
        return max(_DELIMITERS, key=first.count)


def _xlsx(content: bytes, max_rows: int) -> Sheet:
    from python_calamine import CalamineError, CalamineWorkbook  # only when one comes

    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(content))
        sheet = workbook.get_sheet_by_index(0)
        rows_in = iter(sheet.iter_rows())
        header: tuple[str, ...] | None = None
        rows: list[Row] = []
        for line, values in enumerate(rows_in, start=1):
            cells = tuple(_cell(_xlsx_text(v)) for v in values)
            if not any(cells):
                continue
            if header is None:
                header = cells
                continue
            if len(rows) == max_rows:
                raise _too_many(max_rows)
            rows.append(Row(line, cells))
    except (CalamineError, ValueError, KeyError, IndexError) as error:
        raise UsageError(f"I can't read this workbook: {error}.") from None
    if header is None:
        raise UsageError("The workbook's first sheet is empty.")
    return Sheet(header, rows, "xlsx")


def _xlsx_text(value: object) -> str:
    """A cell as people see it: a phone stored as a number without `.0`, a date as ISO."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta | time):
        return str(value)
    return str(value)


def _vcards(text: str, max_rows: int) -> Sheet:
    from bot.vcard import parse_vcard

    rows: list[Row] = []
    for match in _CARD.finditer(text):
        if len(rows) == max_rows:
            raise _too_many(max_rows)
        card = parse_vcard(match.group(0))
        line = text.count("\n", 0, match.start()) + 1
        cells = (card.name, card.phone, card.email, card.company, card.title)
        rows.append(Row(line, tuple(_cell(c or "") for c in cells)))
    return Sheet(VCARD_COLUMNS, rows, "vcf")


def _cell(text: str) -> str:
    # A cell longer than anything a field takes is cut here, and refused by the field.
    cell = normalize(text[: MAX_CELL + 1]).strip()
    # The apostrophe an export puts before a formula-like cell (safe_cell) is not data.
    return cell[1:] if cell[:1] == "'" and cell[1:2] in _FORMULA_START else cell


def _too_many(max_rows: int) -> UsageError:
    return UsageError(
        f"The file has more than {max_rows:,} rows, more than I import at once. "
        "Split it into smaller files."
    )


def rows_as_csv(header: tuple[str, ...], rows: Iterable[Sequence[object]]) -> bytes:
    """Rows as a CSV file in memory (see `write_csv`)."""
    out = io.BytesIO()
    write_csv(out, header, rows)
    return out.getvalue()


def write_csv(out: BinaryIO, header: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
    """Rows as a CSV file Excel opens (UTF-8 with a BOM), written as they come (constant
    memory), every cell a spreadsheet would run as a formula neutralised; how many rows."""
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=True)
    writer = csv.writer(text)
    writer.writerow([safe_cell(h) for h in header])
    count = 0
    for row in rows:
        writer.writerow([safe_cell(_text(c)) for c in row])
        count += 1
    text.flush()
    text.detach()  # the caller's file stays open
    return count


def write_xlsx(
    out: BinaryIO, sheets: Sequence[tuple[str, Sequence[str], Iterable[Sequence[object]]]]
) -> int:
    """Sheets (name, header, rows) as an Excel workbook, streamed (xlsxwriter's constant
    memory mode writes each row as it comes). Text goes in as text, never as a formula;
    amounts as numbers. How many rows in all."""
    import xlsxwriter  # only when someone exports

    workbook = xlsxwriter.Workbook(out, {"constant_memory": True, "in_memory": False})
    bold = workbook.add_format({"bold": True})
    count = 0
    for name, header, rows in sheets:
        sheet = workbook.add_worksheet(name)
        for column, title in enumerate(header):
            sheet.write_string(0, column, title, bold)
        for line, row in enumerate(rows, start=1):
            for column, value in enumerate(row):
                if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
                    sheet.write_number(line, column, float(value))
                elif value is not None and value != "":
                    sheet.write_string(line, column, _text(value))
            count += 1
    workbook.close()
    return count


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    """A cell a spreadsheet shows as text: one starting like a formula (`=`, `+`, `-`, `@`,
    tab, CR) gets a leading apostrophe (OWASP's advice for CSV injection). A phone number
    in E.164 starts with `+` too, and keeps it behind the apostrophe, which the import
    takes off again."""
    return f"'{value}" if value.startswith(_FORMULA_START) else value
