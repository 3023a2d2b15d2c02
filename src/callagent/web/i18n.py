"""The operator page's words in Russian (the default) and English.

Templates get them as ``t`` and the page's script as JSON; call categories and
form fields bring their own labels (from the wrap-up forms file).
"""

from __future__ import annotations

from typing import Literal

Language = Literal["ru", "en"]
LANGUAGES: tuple[Language, ...] = ("ru", "en")
DEFAULT_LANGUAGE: Language = "ru"

_RU: dict[str, str] = {
    "app": "callagent",
    "operator_title": "Рабочее место оператора",
    "login_title": "Вход для операторов",
    "login_field": "Логин",
    "password_field": "Пароль",
    "login_button": "Войти",
    "login_failed": "Неверный логин или пароль.",
    "login_throttled": "Слишком много неудачных попыток. Повторите через {seconds} с.",
    "login_incomplete": "Введите логин и пароль.",
    "login_error": "Не удалось войти: {detail}",
    "session_ended": "Сеанс завершён или истёк. Войдите снова.",
    "logout": "Выйти из системы",
    "language": "Язык",
    "state": "Состояние",
    "state_ready": "Готов",
    "state_ringing": "Звонок",
    "state_on_call": "Разговор",
    "state_wrap_up": "Поствызывная обработка",
    "state_paused": "Пауза",
    "state_offline": "Не на линии",
    "state_unavailable": "Телефон недоступен",
    "since": "с {time}",
    "go_ready": "Готов",
    "go_pause": "Пауза",
    "go_offline": "Уйти с линии",
    "pause_reason": "Причина паузы",
    "reason_break": "Перерыв",
    "reason_lunch": "Обед",
    "reason_training": "Обучение",
    "reason_meeting": "Совещание",
    "reason_other": "Другое",
    "reason_no_answer": "Не ответил на звонок",
    "state_refused": "Сейчас нельзя: {detail}",
    "phone_not_registered": (
        "телефон {phones} не зарегистрирован на АТС, звонки на него не доходят. Включите "
        "телефон, проверьте его сеть и учётную запись SIP, дождитесь регистрации и снова "
        "нажмите «Готов»."
    ),
    "caller": "Заявитель",
    "phase_ringing": "звонит",
    "phase_answered": "разговор",
    "phase_ended": "звонок завершён",
    "unknown_number": "номер не определён",
    "history": "Прежние обращения с этого номера",
    "history_empty": "С этого номера раньше не звонили.",
    "history_failed": "Историю обращений получить не удалось.",
    "preview_title": "Уведомление о готовности документов",
    "preview_hint": "Обзвон по реестру: ответьте на звонок, затем будет набран заявитель.",
    "preview_campaign": "Кампания",
    "preview_applicant": "Заявитель",
    "preview_phone": "Телефон",
    "preview_case": "Номер дела",
    "preview_service": "Услуга",
    "preview_office": "Офис",
    "preview_ready_date": "Готово с",
    "preview_note": "Примечание",
    "preview_attempt": "Попытка",
    "wrapup": "Поствызывная обработка",
    "wrapup_of": "Звонок {number}, {time}",
    "pending_wrapups": "Ждут обработки",
    "category": "Категория звонка",
    "choose_category": "Выберите категорию (клавиши 1–9).",
    "left": "Осталось {time}",
    "deadline_passed": "Срок вышел: обработка пропущена, но её ещё можно заполнить.",
    "extend": "Продлить",
    "extended": "Срок продлён.",
    "submit": "Сохранить",
    "saved": "Обработка сохранена.",
    "fix_fields": "Исправьте отмеченные поля.",
    "required": "обязательно",
    "yes": "Да",
    "no": "Нет",
    "not_chosen": "— не выбрано —",
    "missed": "Пропущенные обработки",
    "missed_empty": "Пропущенных обработок нет.",
    "complete": "Заполнить",
    "recent": "Мои последние звонки",
    "recent_empty": "Звонков пока не было.",
    "col_time": "Время",
    "col_number": "Номер",
    "col_direction": "Тип",
    "col_result": "Итог",
    "col_talk": "Разговор, с",
    "col_wrapup": "Обработка",
    "direction_inbound": "входящий",
    "direction_outbound": "исходящий",
    "direction_internal": "внутренний",
    "no_wrapup": "нет",
    "questions": "Ответы получены — перезвонить заявителю",
    "questions_empty": "Перезванивать некому.",
    "callback": "Перезвонить",
    "callback_started": "Звоним: сначала ваш телефон, затем заявитель.",
    "called_back": "перезванивали {time}",
    "callback_failed": "Перезвонить не удалось: {detail}",
    "session_expired": (
        "Сеанс истёк. Войдите снова — черновик обработки сохранён в этом браузере "
        "и вернётся в форму."
    ),
    "login_again": "Войти снова",
    "live_lost": "Нет связи с сервером, переподключаемся…",
    "error": "Ошибка: {detail}",
    "shortcuts": (
        "Клавиши: 1–9 или Alt+цифра — категория, Ctrl+Enter — сохранить, "
        "Alt+E — продлить, Alt+R — готов, Alt+P — пауза."
    ),
}

_EN: dict[str, str] = {
    "app": "callagent",
    "operator_title": "Operator workplace",
    "login_title": "Operator sign-in",
    "login_field": "Login",
    "password_field": "Password",
    "login_button": "Sign in",
    "login_failed": "Wrong login or password.",
    "login_throttled": "Too many failed attempts. Try again in {seconds} s.",
    "login_incomplete": "Enter your login and password.",
    "login_error": "Could not sign in: {detail}",
    "session_ended": "Your session has ended or expired. Sign in again.",
    "logout": "Sign out",
    "language": "Language",
    "state": "State",
    "state_ready": "Ready",
    "state_ringing": "Ringing",
    "state_on_call": "On a call",
    "state_wrap_up": "After-call work",
    "state_paused": "Paused",
    "state_offline": "Offline",
    "state_unavailable": "Phone unavailable",
    "since": "since {time}",
    "go_ready": "Ready",
    "go_pause": "Pause",
    "go_offline": "Go offline",
    "pause_reason": "Pause reason",
    "reason_break": "Break",
    "reason_lunch": "Lunch",
    "reason_training": "Training",
    "reason_meeting": "Meeting",
    "reason_other": "Other",
    "reason_no_answer": "Did not answer a call",
    "state_refused": "Not now: {detail}",
    "phone_not_registered": (
        "your phone {phones} is not registered with the PBX, so no call can reach it. "
        "Switch the phone on, check its network and SIP account, wait until it registers, "
        "then press Ready again."
    ),
    "caller": "Applicant",
    "phase_ringing": "ringing",
    "phase_answered": "on the call",
    "phase_ended": "call ended",
    "unknown_number": "number withheld",
    "history": "Earlier contacts from this number",
    "history_empty": "No earlier calls from this number.",
    "history_failed": "Could not load the contact history.",
    "preview_title": "Ready-document notification",
    "preview_hint": "Registry call: answer your phone, then the applicant is dialled.",
    "preview_campaign": "Campaign",
    "preview_applicant": "Applicant",
    "preview_phone": "Phone",
    "preview_case": "Case number",
    "preview_service": "Service",
    "preview_office": "Office",
    "preview_ready_date": "Ready since",
    "preview_note": "Note",
    "preview_attempt": "Attempt",
    "wrapup": "After-call work",
    "wrapup_of": "Call {number}, {time}",
    "pending_wrapups": "Waiting for wrap-up",
    "category": "Call category",
    "choose_category": "Choose the category (keys 1–9).",
    "left": "{time} left",
    "deadline_passed": "Time is up: the wrap-up is missed, but you can still complete it.",
    "extend": "Extend",
    "extended": "Deadline extended.",
    "submit": "Save",
    "saved": "Wrap-up saved.",
    "fix_fields": "Fix the marked fields.",
    "required": "required",
    "yes": "Yes",
    "no": "No",
    "not_chosen": "— not chosen —",
    "missed": "Missed wrap-ups",
    "missed_empty": "No missed wrap-ups.",
    "complete": "Complete",
    "recent": "My recent calls",
    "recent_empty": "No calls yet.",
    "col_time": "Time",
    "col_number": "Number",
    "col_direction": "Type",
    "col_result": "Result",
    "col_talk": "Talk, s",
    "col_wrapup": "Wrap-up",
    "direction_inbound": "inbound",
    "direction_outbound": "outbound",
    "direction_internal": "internal",
    "no_wrapup": "none",
    "questions": "Answers are in: call the applicant back",
    "questions_empty": "Nobody to call back.",
    "callback": "Call back",
    "callback_started": "Calling: your phone first, then the applicant.",
    "called_back": "called back {time}",
    "callback_failed": "Could not call back: {detail}",
    "session_expired": (
        "Your session has expired. Sign in again: the wrap-up draft is kept in this "
        "browser and comes back to the form."
    ),
    "login_again": "Sign in again",
    "live_lost": "Lost the connection to the server, reconnecting…",
    "error": "Error: {detail}",
    "shortcuts": (
        "Keys: 1–9 or Alt+digit — category, Ctrl+Enter — save, Alt+E — extend, "
        "Alt+R — ready, Alt+P — pause."
    ),
}

STRINGS: dict[Language, dict[str, str]] = {"ru": _RU, "en": _EN}


def language_of(value: str | None) -> Language:
    """``value`` if it is a language the page speaks, else Russian."""
    for language in LANGUAGES:
        if value == language:
            return language
    return DEFAULT_LANGUAGE


def strings(language: str | None) -> dict[str, str]:
    """Every string of the page in ``language`` (Russian when unknown)."""
    return STRINGS[language_of(language)]
