"""Phone numbers that the installed phonenumbers itself calls valid, whatever its release:
its own example numbers, in the forms people type and the bot writes. A number made up
for a test is valid only as long as the numbering plan in the library's data says so."""

from __future__ import annotations

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


LANDLINE = example("DE", PhoneNumberType.FIXED_LINE)
MOBILE = example("DE", PhoneNumberType.MOBILE)
US = example("US", PhoneNumberType.FIXED_LINE_OR_MOBILE)
