"""Call recordings' words (the player on a call's page, the refusals) in Russian,
Ukrainian and English. Merged into ``STRINGS`` by :mod:`callagent.web.i18n`."""

from __future__ import annotations

RU: dict[str, str] = {
    "rec_no_audio": "Браузер не может воспроизвести запись.",
    "rec_audited": "Прослушивание записи вносится в журнал доступа.",
    "error_recording_none": "у звонка нет записи",
    "error_recording_missing": (
        "файла записи больше нет (удалён по сроку хранения или не был записан)"
    ),
    "error_recording_outside": (
        "файл записи лежит вне папки записей (CALLAGENT_RECORDINGS_DIR) и не выдаётся"
    ),
    "error_recording_operators_off": "операторам прослушивание записей не разрешено",
    "error_recording_not_yours": "это не ваш звонок: записи — только звонков, которые вам видны",
}

UK: dict[str, str] = {
    "rec_no_audio": "Браузер не може відтворити запис.",
    "rec_audited": "Прослуховування запису вноситься до журналу доступу.",
    "error_recording_none": "у дзвінка немає запису",
    "error_recording_missing": (
        "файлу запису більше немає (видалений за строком зберігання або не був записаний)"
    ),
    "error_recording_outside": (
        "файл запису лежить поза текою записів (CALLAGENT_RECORDINGS_DIR) і не видається"
    ),
    "error_recording_operators_off": "операторам прослуховування записів не дозволене",
    "error_recording_not_yours": "це не ваш дзвінок: записи — лише дзвінків, які вам видно",
}

EN: dict[str, str] = {
    "rec_no_audio": "The browser cannot play the recording.",
    "rec_audited": "Listening to a recording is written to the access log.",
    "error_recording_none": "the call has no recording",
    "error_recording_missing": (
        "the recording's file is gone (deleted after the retention period, or never written)"
    ),
    "error_recording_outside": (
        "the recording's file is outside the recordings folder (CALLAGENT_RECORDINGS_DIR) "
        "and is not served"
    ),
    "error_recording_operators_off": "operators may not listen to recordings",
    "error_recording_not_yours": ("not your call: recordings only of the calls you may see"),
}
