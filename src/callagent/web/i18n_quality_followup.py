"""Words of issue #13's follow-up in Russian, Ukrainian and English: the reports page's
quality and call-back parts (``rq_*``), the calibration page (``qc_*``) and the call-back
preview on the operator's page (``cbp_*``).

Merged into ``STRINGS`` by :mod:`callagent.web.i18n`.
"""

from __future__ import annotations

RU: dict[str, str] = {
    "qa_scorecard_changed": (
        "Файл оценочного листа «{id}» изменён без новой версии (версия {version} уже "
        "использована в оценках): новые оценки не принимаются, пока в файле не повышена "
        "версия или файл не возвращён как был."
    ),
    "rq_title": "Качество обслуживания",
    "rq_summary": "Оценок за период: {count}, средняя оценка {average}.",
    "rq_none": "За период нет оценок качества.",
    "rq_average": "Средняя оценка",
    "rq_pass_mark": "Проходной балл {mark}",
    "rq_trend_chart": "Тренд оценки качества",
    "rq_score_axis": "Оценка",
    "rq_by_day": "День",
    "rq_by_week": "Неделя (с понедельника)",
    "rq_by_month": "Месяц",
    "rq_errors_chart": "Частые ошибки",
    "rq_errors_times": "Сколько раз",
    "rq_critical_mark": "критичная",
    "rq_more": "Подробнее — на странице «Качество»",
    "rq_callbacks": "Обратные звонки по заявкам с сайта",
    "rq_callbacks_open": "В работе",
    "rq_x_average": "Средняя оценка, %",
    "rq_x_share": "Выполнено, %",
    "rq_x_critical": "Критичная ошибка",
    "rq_x_yes": "да",
    "rq_x_no": "нет",
    "qa_sample_given": (
        "Звонки на оценку назначает администратор или руководитель без группы: выборка "
        "недели и калибровка."
    ),
    "qc_title": "Калибровка оценщиков",
    "qc_intro": (
        "Один звонок оценивают несколько оценщиков; разброс по критерию: 0 — ответы "
        "совпали, 100 — один поставил всё, другой ничего."
    ),
    "qc_new": "Назначить звонок на калибровку",
    "qc_call": "Номер звонка",
    "qc_evaluators": "Оценщики (не меньше двух)",
    "qc_assign": "Назначить",
    "qc_assigned": "Звонок №{id} назначен оценщикам: {count}.",
    "qc_need_two": "Выберите не меньше двух оценщиков.",
    "qc_period": "Звонки с {first} по {last}",
    "qc_show": "Показать",
    "qc_criteria": "Разброс по критериям",
    "qc_calls": "Звонки на калибровке",
    "qc_col_call": "Звонок",
    "qc_col_evaluators": "Оценщиков",
    "qc_col_scores": "Оценки",
    "qc_col_spread": "Разброс оценки",
    "qc_col_criterion": "Критерий",
    "qc_col_calls": "Звонков",
    "qc_col_mean": "Средний разброс",
    "qc_col_max": "Наибольший разброс",
    "qc_none": "Пока ни один звонок не оценён двумя оценщиками за период.",
    "qc_link": "Калибровка",
    "cbp_title": "Обратный звонок по заявке с сайта",
    "cbp_name": "Заявитель",
    "cbp_number": "Номер",
    "cbp_topic": "Тема",
    "cbp_window": "Удобное время",
    "cbp_attempt": "Попытка",
    "cbp_attempt_of": "{attempt} из {max}",
    "cbp_window_text": "{start} — {end}",
}

UK: dict[str, str] = {
    "qa_scorecard_changed": (
        "Файл оцінювального листа «{id}» змінено без нової версії (версію {version} вже "
        "використано в оцінках): нові оцінки не приймаються, доки у файлі не підвищено "
        "версію або файл не повернуто як був."
    ),
    "rq_title": "Якість обслуговування",
    "rq_summary": "Оцінок за період: {count}, середня оцінка {average}.",
    "rq_none": "За період немає оцінок якості.",
    "rq_average": "Середня оцінка",
    "rq_pass_mark": "Прохідний бал {mark}",
    "rq_trend_chart": "Тренд оцінки якості",
    "rq_score_axis": "Оцінка",
    "rq_by_day": "День",
    "rq_by_week": "Тиждень (з понеділка)",
    "rq_by_month": "Місяць",
    "rq_errors_chart": "Часті помилки",
    "rq_errors_times": "Скільки разів",
    "rq_critical_mark": "критична",
    "rq_more": "Докладніше — на сторінці «Якість»",
    "rq_callbacks": "Зворотні дзвінки за заявками з сайту",
    "rq_callbacks_open": "У роботі",
    "rq_x_average": "Середня оцінка, %",
    "rq_x_share": "Виконано, %",
    "rq_x_critical": "Критична помилка",
    "rq_x_yes": "так",
    "rq_x_no": "ні",
    "qa_sample_given": (
        "Дзвінки на оцінювання призначає адміністратор або керівник без групи: вибірка "
        "тижня і калібрування."
    ),
    "qc_title": "Калібрування оцінювачів",
    "qc_intro": (
        "Один дзвінок оцінюють кілька оцінювачів; розкид за критерієм: 0 — відповіді "
        "збіглися, 100 — один поставив усе, інший нічого."
    ),
    "qc_new": "Призначити дзвінок на калібрування",
    "qc_call": "Номер дзвінка",
    "qc_evaluators": "Оцінювачі (не менше двох)",
    "qc_assign": "Призначити",
    "qc_assigned": "Дзвінок №{id} призначено оцінювачам: {count}.",
    "qc_need_two": "Оберіть не менше двох оцінювачів.",
    "qc_period": "Дзвінки з {first} по {last}",
    "qc_show": "Показати",
    "qc_criteria": "Розкид за критеріями",
    "qc_calls": "Дзвінки на калібруванні",
    "qc_col_call": "Дзвінок",
    "qc_col_evaluators": "Оцінювачів",
    "qc_col_scores": "Оцінки",
    "qc_col_spread": "Розкид оцінки",
    "qc_col_criterion": "Критерій",
    "qc_col_calls": "Дзвінків",
    "qc_col_mean": "Середній розкид",
    "qc_col_max": "Найбільший розкид",
    "qc_none": "Поки жоден дзвінок не оцінено двома оцінювачами за період.",
    "qc_link": "Калібрування",
    "cbp_title": "Зворотний дзвінок за заявкою з сайту",
    "cbp_name": "Заявник",
    "cbp_number": "Номер",
    "cbp_topic": "Тема",
    "cbp_window": "Зручний час",
    "cbp_attempt": "Спроба",
    "cbp_attempt_of": "{attempt} з {max}",
    "cbp_window_text": "{start} — {end}",
}

EN: dict[str, str] = {
    "qa_scorecard_changed": (
        "The scorecard file '{id}' was changed without a new version (version {version} is "
        "used by evaluations already): new evaluations are refused until the file raises its "
        "version or is put back as it was."
    ),
    "rq_title": "Service quality",
    "rq_summary": "Evaluations in the period: {count}, average score {average}.",
    "rq_none": "No quality evaluations in the period.",
    "rq_average": "Average score",
    "rq_pass_mark": "Pass mark {mark}",
    "rq_trend_chart": "Quality score trend",
    "rq_score_axis": "Score",
    "rq_by_day": "Day",
    "rq_by_week": "Week (from Monday)",
    "rq_by_month": "Month",
    "rq_errors_chart": "Most frequent errors",
    "rq_errors_times": "Times",
    "rq_critical_mark": "critical",
    "rq_more": "More on the Quality page",
    "rq_callbacks": "Call-backs requested on the website",
    "rq_callbacks_open": "Open",
    "rq_x_average": "Average score, %",
    "rq_x_share": "Met, %",
    "rq_x_critical": "Critical error",
    "rq_x_yes": "yes",
    "rq_x_no": "no",
    "qa_sample_given": (
        "Calls are given to you by an admin or a supervisor without a group: the week's "
        "sample and calibrations."
    ),
    "qc_title": "Evaluator calibration",
    "qc_intro": (
        "Several evaluators score the same call; a criterion's spread: 0 — their answers "
        "agree, 100 — one gave all, another nothing."
    ),
    "qc_new": "Give a call for calibration",
    "qc_call": "Call number",
    "qc_evaluators": "Evaluators (two or more)",
    "qc_assign": "Assign",
    "qc_assigned": "Call {id} given to {count} evaluators.",
    "qc_need_two": "Choose two evaluators or more.",
    "qc_period": "Calls from {first} to {last}",
    "qc_show": "Show",
    "qc_criteria": "Spread per criterion",
    "qc_calls": "Calls calibrated",
    "qc_col_call": "Call",
    "qc_col_evaluators": "Evaluators",
    "qc_col_scores": "Scores",
    "qc_col_spread": "Score spread",
    "qc_col_criterion": "Criterion",
    "qc_col_calls": "Calls",
    "qc_col_mean": "Mean spread",
    "qc_col_max": "Largest spread",
    "qc_none": "No call of the period was scored by two evaluators yet.",
    "qc_link": "Calibration",
    "cbp_title": "Call-back requested on the website",
    "cbp_name": "Applicant",
    "cbp_number": "Number",
    "cbp_topic": "Topic",
    "cbp_window": "Preferred time",
    "cbp_attempt": "Attempt",
    "cbp_attempt_of": "{attempt} of {max}",
    "cbp_window_text": "{start} — {end}",
}
