"""The planning page's words for the staffing checked by simulation (``sim_*``,
``error_simulation_running``) and the break re-plan (``sch_replan_*``: the schedule
script's words are the ``sch_`` ones) in Russian, Ukrainian and English."""

from __future__ import annotations

RU: dict[str, str] = {
    "sim_sl": "SL, симуляция",
    "sim_abandon": "Брошенные, симуляция",
    "sim_asa": "Ожидание, симуляция, с",
    "sim_run": "Проверить симуляцией",
    "sim_running": "идёт симуляция…",
    "sim_failed": "симуляция не удалась",
    "sim_started": "Симуляция запущена: таблица обновится, когда она закончится.",
    "sim_note": "Симуляция проигрывает рекомендованное по Erlang C число операторов через "
    "встроенный симулятор АТС и маршрутизацию callagent (ускоренные часы), со звонящими "
    "с измеренным терпением и AHT из прогноза. Она показывает, где допущения Erlang не "
    "выполняются: короткие интервалы, маленькие группы, нетерпеливые звонящие.",
    "sim_title": "Симуляция {start}: {agents} операторов, звонков {calls}",
    "error_simulation_running": "Уже идёт другая симуляция: дождитесь её окончания.",
    "sch_replan": "Перепланировать перерывы",
    "sch_replan_at": "С момента",
    "sch_replan_factor": "Нагрузка × прогноз",
    "sch_replan_propose": "Предложить",
    "sch_replan_apply": "Применить",
    "sch_replan_none": "Менять нечего: все перерывы уже на лучших местах.",
    "sch_replan_under": "Нехватка после {at}: было {before}, станет {after} агенто-интервалов.",
    "sch_replan_change": "{operator}: {before} → {after}",
    "sch_replan_applied": "Новый план перерывов сохранён.",
    "sch_replan_no_schedule": "На этот день нет расписания.",
}

UK: dict[str, str] = {
    "sim_sl": "SL, симуляція",
    "sim_abandon": "Покинуті, симуляція",
    "sim_asa": "Очікування, симуляція, с",
    "sim_run": "Перевірити симуляцією",
    "sim_running": "триває симуляція…",
    "sim_failed": "симуляція не вдалася",
    "sim_started": "Симуляцію запущено: таблиця оновиться, коли вона закінчиться.",
    "sim_note": "Симуляція програє рекомендовану за Erlang C кількість операторів через "
    "вбудований симулятор АТС і маршрутизацію callagent (прискорений годинник), з абонентами "
    "з виміряним терпінням і AHT з прогнозу. Вона показує, де припущення Erlang не "
    "справджуються: короткі інтервали, малі групи, нетерплячі абоненти.",
    "sim_title": "Симуляція {start}: {agents} операторів, дзвінків {calls}",
    "error_simulation_running": "Вже триває інша симуляція: дочекайтеся її завершення.",
    "sch_replan": "Перепланувати перерви",
    "sch_replan_at": "З моменту",
    "sch_replan_factor": "Навантаження × прогноз",
    "sch_replan_propose": "Запропонувати",
    "sch_replan_apply": "Застосувати",
    "sch_replan_none": "Змінювати нічого: усі перерви вже на найкращих місцях.",
    "sch_replan_under": "Нестача після {at}: було {before}, стане {after} агенто-інтервалів.",
    "sch_replan_change": "{operator}: {before} → {after}",
    "sch_replan_applied": "Новий план перерв збережено.",
    "sch_replan_no_schedule": "На цей день немає розкладу.",
}

EN: dict[str, str] = {
    "sim_sl": "SL, simulated",
    "sim_abandon": "Abandoned, simulated",
    "sim_asa": "Wait, simulated, s",
    "sim_run": "Check by simulation",
    "sim_running": "simulating…",
    "sim_failed": "the simulation failed",
    "sim_started": "Simulation started: the table is updated when it ends.",
    "sim_note": "The simulation plays Erlang C's recommended agents through callagent's own "
    "PBX simulator and routing (an accelerated clock), with callers of the measured patience "
    "and the forecast AHT. It shows where Erlang's assumptions do not hold: short intervals, "
    "small teams, impatient callers.",
    "sim_title": "Simulation {start}: {agents} agents, {calls} calls",
    "error_simulation_running": "Another simulation is running: wait until it ends.",
    "sch_replan": "Re-plan the breaks",
    "sch_replan_at": "From",
    "sch_replan_factor": "Volume × forecast",
    "sch_replan_propose": "Propose",
    "sch_replan_apply": "Apply",
    "sch_replan_none": "Nothing to change: every break is already in its best place.",
    "sch_replan_under": "Short after {at}: {before} now, {after} after, agent-intervals.",
    "sch_replan_change": "{operator}: {before} → {after}",
    "sch_replan_applied": "The new break plan is saved.",
    "sch_replan_no_schedule": "There is no schedule for that day.",
}
