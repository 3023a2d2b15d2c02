"""The complaints register's words (``/complaints``) in Russian, Ukrainian and English.

Merged into ``STRINGS`` by :mod:`callagent.web.i18n`; values have a key each
(``complaint_status_<status>``, ``complaint_channel_<channel>``,
``complaint_cause_<cause>``), the API's refusals ``error_complaint_<code>``.
"""

from __future__ import annotations

RU: dict[str, str] = {}

UK: dict[str, str] = {}

EN: dict[str, str] = {}
