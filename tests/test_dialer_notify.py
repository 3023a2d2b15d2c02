"""The notify script's message: fields, sound names, timeouts (pure)."""

from __future__ import annotations

from callagent.campaigns.notify_agi import DEFAULT_PROMPTS, DEFAULT_QUESTION, build_message
from callagent.db.campaign_models import Campaign, RegistryEntry


def _entry() -> RegistryEntry:
    return RegistryEntry(
        case_number="MFC-2026/0042",
        office="Office 3",
        service="Passport",
        ready_date="2026-11-20",
        applicant_name="Ivanova Maria",
    )


def test_the_message_from_the_campaign_settings() -> None:
    campaign = Campaign(
        name="docs",
        message={
            "text": "Case {case_number} at {office}, {hours}. {unknown} {case_number:>999}",
            "hours": "9:00-18:00",
            "question": "custom/press-digit",
            "timeout": 8000,
        },
    )
    message = build_message(campaign, _entry())
    # only {field} names are replaced; nothing else is interpreted
    assert (
        message.text == "Case MFC-2026/0042 at Office 3, 9:00-18:00. {unknown} {case_number:>999}"
    )
    assert (message.question, message.timeout_ms) == ("custom/press-digit", 8000)
    assert message.prompts == DEFAULT_PROMPTS


def test_nothing_unsafe_reaches_an_agi_command() -> None:
    campaign = Campaign(
        name="docs", message={"question": "beep\nEXEC System rm", "timeout": "soon"}
    )
    message = build_message(campaign, _entry())
    assert message.question == DEFAULT_QUESTION
    assert message.timeout_ms == 5000
    assert (
        build_message(Campaign(name="d", message={"timeout": 10**9}), _entry()).timeout_ms == 30000
    )
