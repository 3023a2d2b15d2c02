"""One rule for applicants' contacts, wherever they are shown masked (questions, wrap-ups)."""

from __future__ import annotations

import pytest

from callagent.auth.masking import mask_contact, mask_phone


@pytest.mark.parametrize(
    ("contact", "masked"),
    [
        ("ivan.petrov@mail.ru", "i***@mail.ru"),
        ("a@example.org", "a***@example.org"),
        ("79161234567", "+7 916 ***-**-67"),
        ("+7 (916) 123-45-21", "+7 916 ***-**-21"),
        ("8 916 123-45-67", "+7 916 ***-**-67"),
        ("+49 30 1234567", "4930*****67"),
        ("telegram @ivan_p", "***"),  # no e-mail, no number: nothing of it shown
        ("@ivan_p", "***"),
        ("a@b@c", "***"),
        ("после 18:00 на 89161234567", "***"),  # digits in a note are not a number to keep
        ("Сидоров", "***"),
        ("", ""),
    ],
)
def test_mask_contact(contact: str, masked: str) -> None:
    assert mask_contact(contact) == masked


def test_a_phone_contact_is_masked_as_a_phone() -> None:
    for number in ("79031234567", "+7 903 123 45 67", "12345", "+1 (212) 555-0100"):
        assert mask_contact(number) == mask_phone(number)
