"""Phone numbers that the installed phonenumbers itself calls valid, whatever its release:
its own example numbers, in the forms people type and the bot writes. A number made up
for a test is valid only as long as the numbering plan in the library's data says so."""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType


@dataclass(frozen=True, slots=True)
class Phone:
    e164: str  # +4930123456: as stored
    international: str  # +49 30 123456: as typed with the country code, and as shown
    national: str  # 030 123456: as typed at home


def example(region: str, kind: int) -> Phone:
    """`kind` is a PhoneNumberType."""
    number = phonenumbers.example_number_for_type(region, kind)
    assert number is not None and phonenumbers.is_valid_number(number)
    return Phone(
        phonenumbers.format_number(number, PhoneNumberFormat.E164),
        phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL),
        phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL),
    )


def typed(phone: Phone, form: str) -> str:
    """`phone` as people type it: international, national, with the trunk 0 in brackets,
    00 for +, dashes, a slash or dots, the subscriber's digits in pairs."""
    code, _, rest = phone.international.partition(" ")
    area, _, subscriber = phone.national.partition(" ")
    digits = re.sub(r"\D", "", subscriber)
    head = 3 if len(digits) % 2 else 2  # 123456 as 12 34 56, 3456789 as 345 67 89
    pairs = " ".join([digits[:head], *re.findall(r"\d\d", digits[head:])])
    area_digits = area.lstrip("0")
    forms = {
        "e164": phone.e164,
        "intl": phone.international,
        "national": phone.national,
        "zeros": "00" + phone.international[1:],
        "dashes": phone.international.replace(" ", "-"),
        "dots": code + " " + re.sub(r"[ -]", ".", rest),
        "dash": f"{area}-{subscriber}",
        "slash": f"{area}/{subscriber}",
        "grouped": f"{area} {pairs}",
        "dots-grouped": f"{area} {pairs}".replace(" ", "."),
        "parens-grouped": f"({area}) {pairs}",
        "intl-grouped": f"{code} {area_digits} {pairs}",
        "trunk": f"{code} (0){rest}",
        "trunk-spaced": f"{code} (0) {area_digits} {pairs}",
    }
    return forms[form]


LANDLINE = example("DE", PhoneNumberType.FIXED_LINE)
MOBILE = example("DE", PhoneNumberType.MOBILE)
US = example("US", PhoneNumberType.FIXED_LINE_OR_MOBILE)
