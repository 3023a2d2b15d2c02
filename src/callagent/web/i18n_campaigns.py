"""The supervisor's campaign pages' words in Russian, Ukrainian and English.

Kept apart from :mod:`callagent.web.i18n` (which merges them into ``STRINGS``) so each
file stays readable; ``tests/test_i18n_keys.py`` checks the three languages have the
same keys. Values the pages show have a key each: ``mode_<mode>``,
``campaign_status_<status>``, ``entry_status_<status>``, ``attempt_result_<result>``,
``idle_<reason>``, ``upload_code_<code>`` and ``field_<field>`` (the column meanings).
"""

from __future__ import annotations

RU: dict[str, str] = {
    "error_registry_empty": "{file}: файл пуст: выгрузите реестр из таблицы ещё раз (CSV или XLSX)",
    "error_registry_old_excel": (
        "{file}: это старый файл Excel .xls (или другой двоичный файл): откройте его в "
        "таблице и сохраните как .xlsx или CSV"
    ),
    "error_registry_binary": (
        "{file}: это двоичный файл, а не реестр CSV или XLSX: загрузите реестр как CSV или XLSX"
    ),
    "error_registry_not_xlsx": (
        "{file}: файл назван .xlsx, но это не книга Excel: сохраните его в таблице ещё раз "
        "как .xlsx"
    ),
    "error_registry_encoding": (
        "{file}: файл не в поддерживаемой кодировке (UTF-8, UTF-16, Windows-1251): ошибка в "
        "строке {row}, столбце {column}. Откройте файл в редакторе таблиц, сохраните как "
        "«CSV UTF-8» (или как .xlsx) и импортируйте снова"
    ),
    "error_registry_csv_unreadable": (
        "{file}: файл CSV не читается около строки {line}: проверьте кавычки в этой строке"
    ),
    "error_registry_cell_too_long": (
        "{file}: в строке {row}, столбце {column} ячейка из {length} символов, больше, чем "
        'вмещает ячейка таблицы ({limit}): обычно это незакрытая кавычка ("), из-за которой '
        "весь остаток файла стал одной ячейкой; проверьте кавычки в этой строке или сократите "
        "ячейку"
    ),
    "error_registry_zip_not_xlsx": (
        "{file}: это архив ZIP, но не читаемая книга XLSX: откройте его в таблице и сохраните "
        "как .xlsx или CSV"
    ),
    "error_registry_part_too_large": (
        "{file}: часть книги «{part}» распаковывается в {size} байт из {packed}, больше, чем "
        "бывает в реестре: это не лист реестра (или он раздут); откройте файл в таблице, "
        "скопируйте строки реестра в новую книгу и сохраните её как .xlsx или CSV"
    ),
    "error_registry_workbook_too_large": (
        "{file}: книга распаковывается в {size} байт, больше предела {limit}: разделите реестр "
        "на несколько файлов или сохраните его как CSV"
    ),
    "error_registry_workbook_damaged": (
        "{file}: книгу не удаётся прочитать: она повреждена или сделана не редактором таблиц; "
        "откройте её в таблице и сохраните ещё раз как .xlsx или CSV"
    ),
    "error_registry_too_many_columns": (
        "{file}: в строке {row} есть значение в столбце {column}, а в реестре не больше "
        "{limit} столбцов: удалите в таблице столбцы правее реестра и сохраните файл ещё раз"
    ),
    "error_registry_too_many_rows": (
        "{file}: в файле больше {limit} строк (CALLAGENT_REGISTRY_MAX_ROWS, считая пустые "
        "строки между ними): разделите его на несколько файлов"
    ),
    "error_registry_rows_over_limit": (
        "{file}: в файле {rows} строк, больше предела {limit} (CALLAGENT_REGISTRY_MAX_ROWS): "
        "разделите его на несколько файлов"
    ),
    "error_registry_too_big": (
        "{file}: в файле {size} байт, больше предела {limit} (CALLAGENT_REGISTRY_MAX_BYTES): "
        "разделите его на несколько файлов"
    ),
    "error_registry_request_too_large": (
        "{file}: файл больше допустимого размера (CALLAGENT_REGISTRY_MAX_BYTES): разделите "
        "его на несколько файлов"
    ),
    "error_registry_mapping_unknown_field": (
        "{file}: в сопоставлении столбцов неизвестное поле «{field}»; поля: {fields} "
        "(и ignore для столбцов, которые не нужны)"
    ),
    "error_registry_mapping_no_column": (
        "{file}: для поля «{field}» в сопоставлении не выбран ни один столбец: выберите столбец"
    ),
    "error_registry_mapping_one_column": (
        "{file}: поле «{field}» берётся из одного столбца, а выбрано {count}: оставьте один"
    ),
    "error_registry_mapping_missing_column": (
        "{file}: для поля «{field}» выбран столбец «{column}», но в файле такого столбца нет; "
        "столбцы файла: {columns}. Выберите файл ещё раз"
    ),
    "error_registry_no_phone_column": (
        "{file}: столбец с телефонами не найден (искали заголовки вроде «Телефон», «Телефоны», "
        "«Phone»); в первой строке: {headers}. Выберите столбец с телефонами в списке"
    ),
    "error_registry_no_rows": "{file}: в файле нет строк: выгрузите реестр ещё раз",
    "error_registry_header_only": (
        "{file}: у файла есть шапка (строка {row}), но под ней нет строк: выгрузите реестр "
        "ещё раз вместе со строками"
    ),
    "error_campaign_name_taken": "кампания «{name}» уже есть: выберите другое название",
    "error_campaign_empty": "в кампании нет записей: сначала загрузите реестр",
    "error_campaign_not_running": "кампания сейчас: {status}; приостановить можно только идущую",
    "cmp_list_title": "Кампании оповещения",
    "cmp_list_heading": "Кампании оповещения о готовности документов",
    "cmp_campaign": "кампания",
    "cmp_col_campaign": "Кампания",
    "cmp_col_mode": "Режим",
    "cmp_col_status": "Статус",
    "cmp_col_done": "Завершено",
    "cmp_col_in_flight": "Звонков идёт",
    "cmp_none": "Кампаний пока нет.",
    "cmp_new": "Новая кампания",
    "cmp_name": "Название",
    "cmp_mode_message_option": "сообщение (автоинформатор)",
    "cmp_office_tz": "Часовой пояс офиса",
    "cmp_create": "Создать",
    "cmp_mode_is": "Режим",
    "cmp_zone_is": "часовой пояс офиса",
    "cmp_limits": ("до {calls} звонков одновременно, {rate}/с, попыток на запись: {attempts}"),
    "cmp_progress": "Ход обзвона",
    "cmp_done_of": "{done} из {total} записей завершено",
    "cmp_col_entries": "Записей",
    "cmp_in_flight": "Звонков в процессе",
    "cmp_queued": "взято в работу, ещё не набрано",
    "cmp_attempts": "Попытки по результату",
    "cmp_col_result": "Результат",
    "cmp_col_attempts": "Попыток",
    "cmp_no_attempts": "Звонков ещё не было.",
    "cmp_refreshed": "обновлено {time} ({zone})",
    "cmp_retrying": "нет связи с сервером, повтор…",
    "cmp_control": "Управление",
    "cmp_start": "Запустить",
    "cmp_pause": "Приостановить",
    "cmp_status_now": "статус: {status}",
    "cmp_export": "Реестр с результатами",
    "cmp_upload": "Загрузить реестр",
    "cmp_check_columns": (
        "Проверьте, что значит каждый столбец, и при необходимости выберите другое значение."
    ),
    "cmp_import": "Загрузить",
    "cmp_imports": "Загрузки",
    "cmp_col_no": "№",
    "cmp_col_file": "Файл",
    "cmp_col_when": "Когда ({zone})",
    "cmp_col_rows": "Строк",
    "cmp_col_to_call": "К обзвону",
    "cmp_col_not_called": "Не звоним",
    "cmp_no_imports": "Реестр ещё не загружен.",
    "cmp_column_meaning": "Значение столбца «{column}»",
    "cmp_meaning": "Значение",
    "cmp_row_short": "стр. {row}",
    "cmp_preview_summary": (
        "Шапка таблицы — строка {row}, строк под ней: {total}; показаны первые {shown}."
    ),
    "cmp_remembered": (
        "Значения столбцов — как при загрузке №{import_id} («{file}») с той же шапкой."
    ),
    "cmp_remembered_other": (
        "Значения столбцов — как при загрузке №{import_id} другой кампании («{file}») "
        "с той же шапкой."
    ),
    "cmp_no_phone_column": "Столбец с телефонами не найден: выберите его в списке.",
    "cmp_choose_phones": "Выберите столбец с телефонами.",
    "cmp_one_column": "«{field}» выбрано у нескольких столбцов ({keys}): оставьте один.",
    "cmp_reading": "чтение файла…",
    "cmp_uploading": "загрузка…",
    "cmp_repeated": "Этот файл уже загружался; ничего не добавлено.",
    "cmp_upload_summary": "Строк: {total}, к обзвону: {imported}, не звоним: {rejected}.",
    "cmp_report_row": "строка {row}: {label}",
    "cmp_row_kept": "строка оставлена: звоним на остальные номера",
    "mode_message": "сообщение",
    "mode_operator": "оператор",
    "campaign_status_draft": "не запущена",
    "campaign_status_running": "идёт",
    "campaign_status_paused": "приостановлена",
    "campaign_status_finished": "завершена",
    "entry_status_pending": "ожидают звонка",
    "entry_status_in_progress": "звонок идёт",
    "entry_status_notified": "уведомлены",
    "entry_status_not_notified": "не уведомлены",
    "entry_status_invalid": "неверный номер",
    "entry_status_do_not_call": "не звонить",
    "attempt_result_in_flight": "звонок идёт",
    "attempt_result_answered": "ответил",
    "attempt_result_answered_operator": "ответил, соединён с оператором",
    "attempt_result_answered_no_confirmation": "ответил, без подтверждения",
    "attempt_result_answering_machine": "автоответчик",
    "attempt_result_prompt_missing": "не проиграно: на АТС нет звукового файла",
    "attempt_result_busy": "занято",
    "attempt_result_no_answer": "не отвечает",
    "attempt_result_failed": "ошибка вызова",
    "attempt_result_congestion": "линия перегружена",
    "attempt_result_rejected": "вызов отклонён",
    "attempt_result_timeout": "нет ответа АТС",
    "attempt_result_refused": "не набран: АТС не приняла вызов",
    "idle_draft": "Кампания не запущена: загрузите реестр и нажмите «Запустить».",
    "idle_paused": "Кампания приостановлена: нажмите «Запустить», чтобы продолжить.",
    "idle_finished": "Кампания завершена.",
    "idle_no_entries": "В кампании нет записей: загрузите реестр.",
    "idle_all_done": "Все записи обработаны: звонить больше некому.",
    "idle_outside_window": "Сейчас не звоним: вне окна звонков до {until}.",
    "idle_not_due": ("Сейчас не звоним: ни одна запись ещё не подошла, следующий повтор {until}."),
    "upload_code_empty_row": "пустая строка",
    "upload_code_no_phone": "нет номера телефона",
    "upload_code_invalid_phone": "неверный номер",
    "upload_code_duplicate_in_file": "повтор строки в файле",
    "upload_code_duplicate": "уже есть в кампании",
    "upload_code_do_not_call": "номер в списке «не звонить»",
    "field_name": "ФИО",
    "field_phones": "Телефон(ы)",
    "field_case_number": "Номер дела",
    "field_service": "Услуга",
    "field_office": "Офис",
    "field_ready_date": "Дата готовности",
    "field_note": "Примечание",
    "field_ignore": "не использовать",
}

UK: dict[str, str] = {
    "error_registry_empty": (
        "{file}: файл порожній: вивантажте реєстр із таблиці ще раз (CSV або XLSX)"
    ),
    "error_registry_old_excel": (
        "{file}: це старий файл Excel .xls (або інший двійковий файл): відкрийте його в "
        "таблиці й збережіть як .xlsx або CSV"
    ),
    "error_registry_binary": (
        "{file}: це двійковий файл, а не реєстр CSV або XLSX: завантажте реєстр як CSV або XLSX"
    ),
    "error_registry_not_xlsx": (
        "{file}: файл названо .xlsx, але це не книга Excel: збережіть його в таблиці ще раз "
        "як .xlsx"
    ),
    "error_registry_encoding": (
        "{file}: файл не в підтримуваному кодуванні (UTF-8, UTF-16, Windows-1251): помилка в "
        "рядку {row}, стовпці {column}. Відкрийте файл у редакторі таблиць, збережіть як "
        "«CSV UTF-8» (або як .xlsx) та імпортуйте знову"
    ),
    "error_registry_csv_unreadable": (
        "{file}: файл CSV не читається біля рядка {line}: перевірте лапки в цьому рядку"
    ),
    "error_registry_cell_too_long": (
        "{file}: у рядку {row}, стовпці {column} комірка з {length} символів, більше, ніж "
        'вміщує комірка таблиці ({limit}): зазвичай це незакрита лапка ("), через яку вся '
        "решта файлу стала однією коміркою; перевірте лапки в цьому рядку або скоротіть комірку"
    ),
    "error_registry_zip_not_xlsx": (
        "{file}: це архів ZIP, але не книга XLSX, яку можна прочитати: відкрийте його в "
        "таблиці й збережіть як .xlsx або CSV"
    ),
    "error_registry_part_too_large": (
        "{file}: частина книги «{part}» розпаковується в {size} байтів із {packed}, більше, "
        "ніж буває в реєстрі: це не аркуш реєстру (або його роздуто); відкрийте файл у "
        "таблиці, скопіюйте рядки реєстру в нову книгу й збережіть її як .xlsx або CSV"
    ),
    "error_registry_workbook_too_large": (
        "{file}: книга розпаковується в {size} байтів, більше за межу {limit}: розділіть "
        "реєстр на кілька файлів або збережіть його як CSV"
    ),
    "error_registry_workbook_damaged": (
        "{file}: книгу не вдається прочитати: її пошкоджено або зроблено не редактором "
        "таблиць; відкрийте її в таблиці й збережіть ще раз як .xlsx або CSV"
    ),
    "error_registry_too_many_columns": (
        "{file}: у рядку {row} є значення в стовпці {column}, а в реєстрі не більше {limit} "
        "стовпців: видаліть у таблиці стовпці праворуч від реєстру й збережіть файл ще раз"
    ),
    "error_registry_too_many_rows": (
        "{file}: у файлі більше {limit} рядків (CALLAGENT_REGISTRY_MAX_ROWS, враховуючи "
        "порожні рядки між ними): розділіть його на кілька файлів"
    ),
    "error_registry_rows_over_limit": (
        "{file}: у файлі {rows} рядків, більше за межу {limit} (CALLAGENT_REGISTRY_MAX_ROWS): "
        "розділіть його на кілька файлів"
    ),
    "error_registry_too_big": (
        "{file}: у файлі {size} байтів, більше за межу {limit} (CALLAGENT_REGISTRY_MAX_BYTES): "
        "розділіть його на кілька файлів"
    ),
    "error_registry_request_too_large": (
        "{file}: файл більший за допустимий розмір (CALLAGENT_REGISTRY_MAX_BYTES): розділіть "
        "його на кілька файлів"
    ),
    "error_registry_mapping_unknown_field": (
        "{file}: у зіставленні стовпців невідоме поле «{field}»; поля: {fields} "
        "(та ignore для стовпців, які не потрібні)"
    ),
    "error_registry_mapping_no_column": (
        "{file}: для поля «{field}» у зіставленні не вибрано жодного стовпця: виберіть стовпець"
    ),
    "error_registry_mapping_one_column": (
        "{file}: поле «{field}» береться з одного стовпця, а вибрано {count}: залиште один"
    ),
    "error_registry_mapping_missing_column": (
        "{file}: для поля «{field}» вибрано стовпець «{column}», але у файлі такого стовпця "
        "немає; стовпці файлу: {columns}. Виберіть файл ще раз"
    ),
    "error_registry_no_phone_column": (
        "{file}: стовпець із телефонами не знайдено (шукали заголовки на кшталт «Телефон», "
        "«Phone»); у першому рядку: {headers}. Виберіть стовпець із телефонами у "
        "списку"
    ),
    "error_registry_no_rows": "{file}: у файлі немає рядків: вивантажте реєстр ще раз",
    "error_registry_header_only": (
        "{file}: у файлі є шапка (рядок {row}), але під нею немає рядків: вивантажте реєстр "
        "ще раз разом із рядками"
    ),
    "error_campaign_name_taken": "кампанія «{name}» вже є: виберіть іншу назву",
    "error_campaign_empty": "у кампанії немає записів: спершу завантажте реєстр",
    "error_campaign_not_running": "кампанія зараз: {status}; призупинити можна лише ту, що триває",
    "cmp_list_title": "Кампанії оповіщення",
    "cmp_list_heading": "Кампанії оповіщення про готовність документів",
    "cmp_campaign": "кампанія",
    "cmp_col_campaign": "Кампанія",
    "cmp_col_mode": "Режим роботи",
    "cmp_col_status": "Стан",
    "cmp_col_done": "Завершено",
    "cmp_col_in_flight": "Дзвінків триває",
    "cmp_none": "Кампаній поки немає.",
    "cmp_new": "Нова кампанія",
    "cmp_name": "Назва",
    "cmp_mode_message_option": "повідомлення (автоінформатор)",
    "cmp_office_tz": "Часовий пояс офісу",
    "cmp_create": "Створити",
    "cmp_mode_is": "Режим роботи",
    "cmp_zone_is": "часовий пояс офісу",
    "cmp_limits": "до {calls} дзвінків одночасно, {rate}/с, спроб на запис: {attempts}",
    "cmp_progress": "Хід обдзвону",
    "cmp_done_of": "{done} з {total} записів завершено",
    "cmp_col_entries": "Записів",
    "cmp_in_flight": "Дзвінків триває",
    "cmp_queued": "взято в роботу, ще не набрано",
    "cmp_attempts": "Спроби за результатом",
    "cmp_col_result": "Результат",
    "cmp_col_attempts": "Спроб",
    "cmp_no_attempts": "Дзвінків ще не було.",
    "cmp_refreshed": "оновлено {time} ({zone})",
    "cmp_retrying": "немає зв'язку із сервером, повтор…",
    "cmp_control": "Керування",
    "cmp_start": "Запустити",
    "cmp_pause": "Призупинити",
    "cmp_status_now": "стан: {status}",
    "cmp_export": "Реєстр із результатами",
    "cmp_upload": "Завантажити реєстр",
    "cmp_check_columns": (
        "Перевірте, що означає кожен стовпець, і за потреби виберіть інше значення."
    ),
    "cmp_import": "Завантажити",
    "cmp_imports": "Завантаження",
    "cmp_col_no": "№ з/п",
    "cmp_col_file": "Назва файлу",
    "cmp_col_when": "Коли ({zone})",
    "cmp_col_rows": "Рядків",
    "cmp_col_to_call": "До обдзвону",
    "cmp_col_not_called": "Не телефонуємо",
    "cmp_no_imports": "Реєстр ще не завантажено.",
    "cmp_column_meaning": "Значення стовпця «{column}»",
    "cmp_meaning": "Значення стовпця",
    "cmp_row_short": "ряд. {row}",
    "cmp_preview_summary": (
        "Шапка таблиці — рядок {row}, рядків під нею: {total}; показано перші {shown}."
    ),
    "cmp_remembered": (
        "Значення стовпців — як під час завантаження №{import_id} («{file}») з тією ж шапкою."
    ),
    "cmp_remembered_other": (
        "Значення стовпців — як під час завантаження №{import_id} іншої кампанії («{file}») "
        "з тією ж шапкою."
    ),
    "cmp_no_phone_column": "Стовпець із телефонами не знайдено: виберіть його у списку.",
    "cmp_choose_phones": "Виберіть стовпець із телефонами.",
    "cmp_one_column": "«{field}» вибрано в кількох стовпцях ({keys}): залиште один.",
    "cmp_reading": "читання файлу…",
    "cmp_uploading": "завантаження…",
    "cmp_repeated": "Цей файл уже завантажували; нічого не додано.",
    "cmp_upload_summary": ("Рядків: {total}, до обдзвону: {imported}, не телефонуємо: {rejected}."),
    "cmp_report_row": "рядок {row}: {label}",
    "cmp_row_kept": "рядок залишено: телефонуємо на інші номери",
    "mode_message": "повідомлення",
    "mode_operator": "оператор",
    "campaign_status_draft": "не запущена",
    "campaign_status_running": "триває",
    "campaign_status_paused": "призупинена",
    "campaign_status_finished": "завершена",
    "entry_status_pending": "чекають на дзвінок",
    "entry_status_in_progress": "дзвінок триває",
    "entry_status_notified": "повідомлені",
    "entry_status_not_notified": "не повідомлені",
    "entry_status_invalid": "неправильний номер",
    "entry_status_do_not_call": "не телефонувати",
    "attempt_result_in_flight": "дзвінок триває",
    "attempt_result_answered": "відповів",
    "attempt_result_answered_operator": "відповів, з'єднано з оператором",
    "attempt_result_answered_no_confirmation": "відповів, без підтвердження",
    "attempt_result_answering_machine": "автовідповідач",
    "attempt_result_prompt_missing": "не програно: на АТС немає звукового файлу",
    "attempt_result_busy": "зайнято",
    "attempt_result_no_answer": "не відповідає",
    "attempt_result_failed": "помилка виклику",
    "attempt_result_congestion": "лінія перевантажена",
    "attempt_result_rejected": "виклик відхилено",
    "attempt_result_timeout": "немає відповіді АТС",
    "attempt_result_refused": "не набрано: АТС не прийняла виклик",
    "idle_draft": "Кампанію не запущено: завантажте реєстр і натисніть «Запустити».",
    "idle_paused": "Кампанію призупинено: натисніть «Запустити», щоб продовжити.",
    "idle_finished": "Кампанію завершено.",
    "idle_no_entries": "У кампанії немає записів: завантажте реєстр.",
    "idle_all_done": "Усі записи оброблено: телефонувати більше нікому.",
    "idle_outside_window": "Зараз не телефонуємо: поза вікном дзвінків до {until}.",
    "idle_not_due": ("Зараз не телефонуємо: жоден запис ще не настав, наступний повтор {until}."),
    "upload_code_empty_row": "порожній рядок",
    "upload_code_no_phone": "немає номера телефону",
    "upload_code_invalid_phone": "неправильний номер",
    "upload_code_duplicate_in_file": "повтор рядка у файлі",
    "upload_code_duplicate": "вже є в кампанії",
    "upload_code_do_not_call": "номер у списку «не телефонувати»",
    "field_name": "ПІБ",
    "field_phones": "Телефон(и)",
    "field_case_number": "Номер справи",
    "field_service": "Послуга",
    "field_office": "Офіс",
    "field_ready_date": "Дата готовності",
    "field_note": "Примітка",
    "field_ignore": "не використовувати",
}

EN: dict[str, str] = {
    "error_registry_empty": (
        "{file}: the file is empty: export the registry from the spreadsheet again (CSV or XLSX)"
    ),
    "error_registry_old_excel": (
        "{file}: this is an old Excel .xls (or another binary) file: open it in the "
        "spreadsheet and save it as .xlsx or CSV"
    ),
    "error_registry_binary": (
        "{file}: the file is binary, not a CSV or XLSX registry: upload the registry as CSV or XLSX"
    ),
    "error_registry_not_xlsx": (
        "{file}: the file is named .xlsx but is not an Excel workbook: save it again as .xlsx"
    ),
    "error_registry_encoding": (
        "{file}: this file is not in a supported encoding (UTF-8, UTF-16, Windows-1251): "
        'row {row}, column {column}. Open it in the spreadsheet, save it as "CSV UTF-8" '
        "(or as .xlsx) and import it again"
    ),
    "error_registry_csv_unreadable": (
        "{file}: the CSV file cannot be read near line {line}: check the quotes in that line"
    ),
    "error_registry_cell_too_long": (
        "{file}: row {row}, column {column} has a cell of {length} characters, more than a "
        'spreadsheet cell holds ({limit}): usually a quote (") that is never closed makes '
        "the rest of the file one cell; check the quotes in that row, or shorten the cell"
    ),
    "error_registry_zip_not_xlsx": (
        "{file}: the file is a ZIP archive but not a readable XLSX workbook: open it in the "
        "spreadsheet and save it as .xlsx or CSV"
    ),
    "error_registry_part_too_large": (
        "{file}: the workbook's part \u201c{part}\u201d unpacks to {size} bytes from {packed}, "
        "more than a registry holds: this is not a registry sheet (or it has been padded); "
        "open it in the spreadsheet, copy the registry's rows to a new workbook and save that "
        "as .xlsx or CSV"
    ),
    "error_registry_workbook_too_large": (
        "{file}: the workbook unpacks to {size} bytes, more than {limit}: split the registry "
        "into several files or save it as CSV"
    ),
    "error_registry_workbook_damaged": (
        "{file}: the workbook cannot be read: it is damaged or not made by a spreadsheet; "
        "open it in the spreadsheet and save it again as .xlsx or CSV"
    ),
    "error_registry_too_many_columns": (
        "{file}: row {row} has a value in column {column}; a registry has at most {limit} "
        "columns: delete the columns right of the registry in the spreadsheet and save it again"
    ),
    "error_registry_too_many_rows": (
        "{file}: the file has more than {limit} rows (CALLAGENT_REGISTRY_MAX_ROWS, blank "
        "rows between them included): split it into several files"
    ),
    "error_registry_rows_over_limit": (
        "{file}: the file has {rows} rows, more than {limit} (CALLAGENT_REGISTRY_MAX_ROWS): "
        "split it into several files"
    ),
    "error_registry_too_big": (
        "{file}: the file has {size} bytes, more than the limit of {limit} "
        "(CALLAGENT_REGISTRY_MAX_BYTES): split it into several files"
    ),
    "error_registry_request_too_large": (
        "{file}: the file is larger than the limit (CALLAGENT_REGISTRY_MAX_BYTES): split it "
        "into several files"
    ),
    "error_registry_mapping_unknown_field": (
        "{file}: unknown field \u201c{field}\u201d in the column mapping; fields: {fields} "
        "(and ignore for columns to leave out)"
    ),
    "error_registry_mapping_no_column": (
        "{file}: the mapping of \u201c{field}\u201d names no column: choose a column"
    ),
    "error_registry_mapping_one_column": (
        "{file}: \u201c{field}\u201d takes one column, the mapping names {count}: keep one"
    ),
    "error_registry_mapping_missing_column": (
        "{file}: the mapping names column \u201c{column}\u201d for \u201c{field}\u201d, but "
        "the file has no such column; its columns: {columns}. Choose the file again"
    ),
    "error_registry_no_phone_column": (
        "{file}: no column of phone numbers was found (looked for a header such as Phone, in "
        "Russian or English); the first row has: {headers}. Choose the phone column in the list"
    ),
    "error_registry_no_rows": "{file}: the file has no rows: export the registry again",
    "error_registry_header_only": (
        "{file}: the file has a header (row {row}) but no rows below it: export the "
        "registry again with its rows"
    ),
    "error_campaign_name_taken": (
        "a campaign named \u201c{name}\u201d exists already: pick another name"
    ),
    "error_campaign_empty": "the campaign has no entries: upload a registry first",
    "error_campaign_not_running": "the campaign is {status}: only a running one can be paused",
    "cmp_list_title": "Notification campaigns",
    "cmp_list_heading": "Document-ready notification campaigns",
    "cmp_campaign": "campaign",
    "cmp_col_campaign": "Campaign",
    "cmp_col_mode": "Mode",
    "cmp_col_status": "Status",
    "cmp_col_done": "Done",
    "cmp_col_in_flight": "Calls now",
    "cmp_none": "No campaigns yet.",
    "cmp_new": "New campaign",
    "cmp_name": "Name",
    "cmp_mode_message_option": "message (recorded announcement)",
    "cmp_office_tz": "Office time zone",
    "cmp_create": "Create",
    "cmp_mode_is": "Mode",
    "cmp_zone_is": "office time zone",
    "cmp_limits": "up to {calls} calls at once, {rate}/s, attempts per entry: {attempts}",
    "cmp_progress": "Progress",
    "cmp_done_of": "{done} of {total} entries done",
    "cmp_col_entries": "Entries",
    "cmp_in_flight": "Calls in progress",
    "cmp_queued": "taken, not dialled yet",
    "cmp_attempts": "Attempts by result",
    "cmp_col_result": "Result",
    "cmp_col_attempts": "Attempts",
    "cmp_no_attempts": "No calls yet.",
    "cmp_refreshed": "refreshed {time} ({zone})",
    "cmp_retrying": "the server cannot be reached, retrying…",
    "cmp_control": "Control",
    "cmp_start": "Start",
    "cmp_pause": "Pause",
    "cmp_status_now": "status: {status}",
    "cmp_export": "Registry with results",
    "cmp_upload": "Upload a registry",
    "cmp_check_columns": "Check what each column means, and choose another meaning if needed.",
    "cmp_import": "Upload",
    "cmp_imports": "Uploads",
    "cmp_col_no": "No.",
    "cmp_col_file": "File",
    "cmp_col_when": "When ({zone})",
    "cmp_col_rows": "Rows",
    "cmp_col_to_call": "To call",
    "cmp_col_not_called": "Not called",
    "cmp_no_imports": "No registry uploaded yet.",
    "cmp_column_meaning": "Meaning of column \u201c{column}\u201d",
    "cmp_meaning": "Meaning",
    "cmp_row_short": "row {row}",
    "cmp_preview_summary": (
        "The header is row {row}, with {total} rows below it; the first {shown} are shown."
    ),
    "cmp_remembered": (
        "Column meanings as in upload No. {import_id} (\u201c{file}\u201d) with the same header."
    ),
    "cmp_remembered_other": (
        "Column meanings as in upload No. {import_id} of another campaign (\u201c{file}\u201d) "
        "with the same header."
    ),
    "cmp_no_phone_column": "No phone column found: choose it in the list.",
    "cmp_choose_phones": "Choose the phone column.",
    "cmp_one_column": "\u201c{field}\u201d is chosen for several columns ({keys}): keep one.",
    "cmp_reading": "reading the file…",
    "cmp_uploading": "uploading…",
    "cmp_repeated": "This file was uploaded before; nothing was added.",
    "cmp_upload_summary": "Rows: {total}, to call: {imported}, not called: {rejected}.",
    "cmp_report_row": "row {row}: {label}",
    "cmp_row_kept": "row kept: its other numbers are called",
    "mode_message": "message",
    "mode_operator": "operator",
    "campaign_status_draft": "not started",
    "campaign_status_running": "running",
    "campaign_status_paused": "paused",
    "campaign_status_finished": "finished",
    "entry_status_pending": "waiting for a call",
    "entry_status_in_progress": "call in progress",
    "entry_status_notified": "notified",
    "entry_status_not_notified": "not notified",
    "entry_status_invalid": "invalid number",
    "entry_status_do_not_call": "do not call",
    "attempt_result_in_flight": "call in progress",
    "attempt_result_answered": "answered",
    "attempt_result_answered_operator": "answered, put through to an operator",
    "attempt_result_answered_no_confirmation": "answered, not confirmed",
    "attempt_result_answering_machine": "answering machine",
    "attempt_result_prompt_missing": "not played: the sound file is missing on the PBX",
    "attempt_result_busy": "busy",
    "attempt_result_no_answer": "no answer",
    "attempt_result_failed": "call failed",
    "attempt_result_congestion": "network congestion",
    "attempt_result_rejected": "rejected",
    "attempt_result_timeout": "no answer from the PBX",
    "attempt_result_refused": "not dialled: the PBX refused the call",
    "idle_draft": "The campaign has not been started: upload a registry and press Start.",
    "idle_paused": "The campaign is paused: press Start to go on.",
    "idle_finished": "The campaign is finished.",
    "idle_no_entries": "The campaign has no entries: upload a registry.",
    "idle_all_done": "Every entry is done: nobody is left to call.",
    "idle_outside_window": "Not calling now: outside the calling window until {until}.",
    "idle_not_due": "Not calling now: no entry is due yet, the next retry is {until}.",
    "upload_code_empty_row": "empty row",
    "upload_code_no_phone": "no phone number",
    "upload_code_invalid_phone": "invalid number",
    "upload_code_duplicate_in_file": "repeats a row of the file",
    "upload_code_duplicate": "already in the campaign",
    "upload_code_do_not_call": "number on the do-not-call list",
    "field_name": "Name",
    "field_phones": "Phone(s)",
    "field_case_number": "Case number",
    "field_service": "Service",
    "field_office": "Office",
    "field_ready_date": "Ready date",
    "field_note": "Note",
    "field_ignore": "ignore",
}
