"""Registry import: formats, encodings, delimiters, mapping, bad rows, atomicity, idempotency."""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from callagent.campaigns import registry_import
from callagent.campaigns.phones import parse_phone, split_cell
from callagent.campaigns.registry_import import MappingError, import_registry, prepare
from callagent.campaigns.schemas import CampaignCreate
from callagent.campaigns.service import add_do_not_call, create_campaign
from callagent.campaigns.tables import RegistryFileError, read_table
from callagent.cli import app as cli_app
from callagent.config import get_settings
from callagent.db.campaign_models import RegistryEntry, RegistryImport
from callagent.db.models import AuditEntry
from callagent.db.session import make_engine, make_sessionmaker

HEADER = ["№", "ФИО", "Телефон", "Номер дела", "Услуга", "Офис", "Дата готовности", "Примечание"]
GOOD = [
    [
        "1",
        "Иванова Мария Петровна",
        "8 (916) 123-45-67",
        "Д-001",
        "Паспорт",
        "МФЦ-1",
        "20.11.2026",
        "",
    ],
    ["2", "Петров Пётр", "+7 383 200-00-01", "Д-002", "СНИЛС", "МФЦ-1", "20.11.2026", "после 18"],
    ["3", "Сидорова Анна", "9031234567", "Д-003", "Паспорт", "МФЦ-2", "21.11.2026", ""],
]


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(db_url)
    yield make_sessionmaker(engine)
    engine.dispose()


def _campaign(sessions: sessionmaker[Session], name: str = "Паспорта") -> int:
    with sessions() as session:
        return create_campaign(session, spec=CampaignCreate(name=name)).id


def _csv(rows: list[list[str]], delimiter: str = ";", encoding: str = "utf-8") -> bytes:
    text = "\r\n".join(delimiter.join(_quote(c, delimiter) for c in row) for row in rows) + "\r\n"
    return text.encode(encoding)


def _quote(cell: str, delimiter: str) -> str:
    return f'"{cell}"' if delimiter in cell or "," in cell or ";" in cell else cell


def _xlsx(rows: list[list[Any]]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _import(
    sessions: sessionmaker[Session], campaign_id: int, data: bytes, **kwargs: Any
) -> registry_import.ImportOutcome:
    with sessions() as session:
        return import_registry(
            session, campaign_id=campaign_id, data=data, filename="r.csv", **kwargs
        )


def _entries(sessions: sessionmaker[Session], campaign_id: int) -> list[RegistryEntry]:
    with sessions() as session:
        return list(
            session.scalars(
                select(RegistryEntry)
                .where(RegistryEntry.campaign_id == campaign_id)
                .order_by(RegistryEntry.row_number)
            )
        )


# --- phones (pure) ------------------------------------------------------------------


@pytest.mark.parametrize("text", ["8 (916) 123-45-67", "+7 916 1234567", "9161234567"])
def test_the_three_ways_of_writing_a_number_give_one_e164(text: str) -> None:
    phone = parse_phone(text, "RU")
    assert phone is not None and phone.e164 == "+79161234567"
    assert phone.timezone == ""  # a Russian mobile number does not tell its region


@pytest.mark.parametrize(
    ("text", "zone"),
    [
        ("8 (495) 100-00-01", "Europe/Moscow"),
        ("8 (383) 200-00-01", "Asia/Novosibirsk"),
        ("+7 423 200-00-02", "Asia/Vladivostok"),
    ],
)
def test_landline_numbers_tell_their_time_zone(text: str, zone: str) -> None:
    phone = parse_phone(text, "RU")
    assert phone is not None and phone.timezone == zone


def test_invalid_numbers_and_cells_with_several_numbers() -> None:
    assert parse_phone("123", "RU") is None
    assert parse_phone("8 916 123", "RU") is None
    assert parse_phone("not a number", "RU") is None
    assert split_cell("8 916 123-45-67, +7 903 765-43-21; 495 000 00 00\n") == [
        "8 916 123-45-67",
        "+7 903 765-43-21",
        "495 000 00 00",
    ]


# --- reading files (pure) -----------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1251", "utf-16"])
@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_encodings_and_delimiters_are_recognised(encoding: str, delimiter: str) -> None:
    data = _csv([HEADER, *GOOD], delimiter, encoding)
    table = read_table(data, "r.csv")
    assert table.delimiter == delimiter
    assert table.encoding == ("utf-8" if encoding == "utf-8" else encoding)
    prepared = prepare(table)
    assert [c.name for c in prepared.candidates] == [row[1] for row in GOOD]
    assert [c.phones[0].e164 for c in prepared.candidates] == [
        "+79161234567",
        "+73832000001",
        "+79031234567",
    ]
    assert prepared.mapping["phones"] == ["Телефон"]
    assert prepared.mapping["case_number"] == ["Номер дела"]
    assert prepared.candidates[1].note == "после 18"


def test_english_headers_title_rows_and_several_phone_columns() -> None:
    rows = [
        ["Registry of ready documents, 20.11.2026"],
        [],
        ["Name", "Phone", "Phone 2", "Case", "Service", "Office", "Ready date", "Note"],
        ["Ivanov Ivan", "", "8 916 000-11-22", "C-1", "Passport", "Office 1", "2026-11-20", ""],
        ["Smith John", "+7 495 100-00-01", "9030001122", "C-2", "Passport", "Office 1", "", ""],
    ]
    prepared = prepare(read_table(_csv(rows, ","), "r.csv"))
    assert prepared.header_row == 3
    assert prepared.mapping == {
        "name": ["Name"],
        "phones": ["Phone", "Phone 2"],
        "case_number": ["Case"],
        "service": ["Service"],
        "office": ["Office"],
        "ready_date": ["Ready date"],
        "note": ["Note"],
    }
    first, second = prepared.candidates
    assert (first.row_number, [p.e164 for p in first.phones]) == (4, ["+79160001122"])
    assert [p.e164 for p in second.phones] == ["+74951000001", "+79030001122"]
    assert [p.timezone for p in second.phones] == ["Europe/Moscow", ""]


def test_surname_name_patronymic_columns_make_the_name() -> None:
    rows = [
        ["Фамилия", "Имя", "Отчество", "Телефоны"],
        ["Кузнецова", "Ольга", "Ивановна", "9160001122"],
    ]
    (candidate,) = prepare(read_table(_csv(rows), "r.csv")).candidates
    assert candidate.name == "Кузнецова Ольга Ивановна"


def test_explicit_mapping_wins_and_a_wrong_one_names_the_columns() -> None:
    rows = [["Абонент", "Номер для связи", "Дело"], ["Орлов Олег", "8 916 000 33 44", "77"]]
    table = read_table(_csv(rows), "r.csv")
    with pytest.raises(MappingError, match="no column of phone numbers"):
        prepare(table)
    mapping = registry_import.parse_mapping({"phone": "номер для связи", "name": "Абонент"})
    (candidate,) = prepare(table, mapping).candidates
    assert (candidate.name, candidate.phones[0].e164) == ("Орлов Олег", "+79160003344")
    assert candidate.case_number == "77"  # the other fields still found by their headers
    with pytest.raises(MappingError, match="'Абонент', 'Номер для связи', 'Дело'"):
        prepare(table, registry_import.parse_mapping({"phones": "Телефон"}))
    with pytest.raises(MappingError, match="unknown field 'colour'"):
        registry_import.parse_mapping({"colour": "Абонент"})


def test_xlsx_with_numeric_phones_and_dates() -> None:
    data = _xlsx(
        [
            ["ФИО", "Телефон", "Номер дела", "Дата готовности"],
            ["Иванова Мария", 79161234567, "Д-1", datetime(2026, 11, 20)],
            ["Петров Пётр", "8 423 200-00-02", 12345, None],
        ]
    )
    table = read_table(data, "r.xlsx")
    assert table.file_format == "xlsx"
    first, second = prepare(table).candidates
    assert first.phones[0].e164 == "+79161234567" and first.ready_date == "20.11.2026"
    assert second.phones[0].timezone == "Asia/Vladivostok" and second.case_number == "12345"


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (b"", "r.csv", "the file is empty"),
        (b"   \r\n", "r.csv", "the file is empty"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "r.xls", "save it as .xlsx or CSV"),
        (b"PK\x03\x04not really a zip", "r.xlsx", "not a readable XLSX"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "r.png", "binary"),
        ("ФИО;Услуга\nИванов;Паспорт\n".encode(), "r.csv", "no column of phone numbers"),
    ],
)
def test_malformed_files_get_a_clear_error(data: bytes, filename: str, message: str) -> None:
    with pytest.raises(RegistryFileError, match=message):
        prepare(read_table(data, filename))


# --- importing into the database ----------------------------------------------------


def test_bad_rows_are_reported_with_row_numbers_and_valid_rows_imported(
    sessions: sessionmaker[Session],
) -> None:
    campaign = _campaign(sessions)
    rows = [
        HEADER,
        GOOD[0],
        ["2", "Без Номера", "", "Д-010", "", "", "", ""],
        ["", "", "", "", "", "", "", ""],
        ["3", "Кривой Номер", "8 916 12", "Д-011", "", "", "", ""],
        GOOD[1],
        ["4", "Иванова Мария Петровна", "+7 916 123 45 67", "Д-001", "", "", "", "повтор"],
        ["5", "Два Номера", "8 916 000-55-66; 12-34", "Д-012", "", "", "", ""],
        GOOD[2],
        ["", "", "", "", "", "", "", ""],
    ]
    outcome = _import(sessions, campaign, _csv(rows, encoding="cp1251"))
    record = outcome.record
    assert not outcome.repeated
    assert (record.rows_total, record.rows_imported, record.rows_rejected) == (8, 4, 4)
    report = [(item["row"], item["code"], item["imported"]) for item in record.report]
    assert report == [
        (3, "no_phone", False),
        (4, "empty_row", False),
        (5, "invalid_phone", False),
        (7, "duplicate_in_file", False),
        (8, "invalid_phone", True),
    ]
    duplicate = record.report[3]
    assert duplicate["reason"].startswith("duplicate of row 2")
    assert duplicate["values"]["Примечание"] == "повтор"
    entries = _entries(sessions, campaign)
    assert [(e.row_number, e.status) for e in entries] == [
        (2, "pending"),
        (3, "invalid"),
        (5, "invalid"),
        (6, "pending"),
        (8, "pending"),
        (9, "pending"),
    ]
    by_row = {e.row_number: e for e in entries}
    assert by_row[8].phones == ["+79160005566"]
    assert by_row[6].phone_timezones == ["Asia/Novosibirsk"]
    assert by_row[2].raw["Телефон"] == "8 (916) 123-45-67"  # the cell as given, for the export
    assert record.columns == HEADER
    assert record.encoding == "cp1251" and record.delimiter == ";"


def test_time_zones_of_numbers_from_several_regions_are_stored(
    sessions: sessionmaker[Session],
) -> None:
    campaign = _campaign(sessions)
    rows = [
        ["ФИО", "Телефон"],
        ["Москва", "8 495 100-00-01"],
        ["Новосибирск", "8 383 200-00-01"],
        ["Владивосток", "8 423 200-00-02"],
        ["Мобильный", "8 916 000-00-01"],
    ]
    _import(sessions, campaign, _csv(rows))
    zones = {e.applicant_name: e.phone_timezones for e in _entries(sessions, campaign)}
    assert zones == {
        "Москва": ["Europe/Moscow"],
        "Новосибирск": ["Asia/Novosibirsk"],
        "Владивосток": ["Asia/Vladivostok"],
        "Мобильный": [""],  # the office's zone applies
    }


def test_xlsx_import_in_the_database(sessions: sessionmaker[Session]) -> None:
    campaign = _campaign(sessions)
    data = _xlsx([HEADER, *GOOD, [None] * 8, ["4", "Без телефона"]])
    with sessions() as session:
        outcome = import_registry(session, campaign_id=campaign, data=data, filename="r.xlsx")
    assert outcome.record.file_format == "xlsx"
    assert [(i["row"], i["code"]) for i in outcome.record.report] == [
        (5, "empty_row"),
        (6, "no_phone"),
    ]
    assert len(_entries(sessions, campaign)) == 4


def test_the_same_file_twice_gives_the_earlier_report_and_no_duplicates(
    sessions: sessionmaker[Session],
) -> None:
    campaign = _campaign(sessions)
    data = _csv([HEADER, *GOOD])
    first = _import(sessions, campaign, data)
    again = _import(sessions, campaign, data)
    assert again.repeated and again.record.id == first.record.id
    assert len(_entries(sessions, campaign)) == 3
    # Another file with one of the same cases: reported as a duplicate, not added.
    other = _csv([HEADER, GOOD[1], ["9", "Новая Заявительница", "9160009988", "Д-100"]], ",")
    second = _import(sessions, campaign, other)
    assert not second.repeated
    (item,) = second.record.report
    assert item["code"] == "duplicate" and item["row"] == 2
    assert f"from import {first.record.id}, row 3" in item["reason"]
    assert second.record.rows_imported == 1
    assert len(_entries(sessions, campaign)) == 4
    # Another campaign may hold the same file.
    assert not _import(sessions, _campaign(sessions, "Другая"), data).repeated


def test_numbers_on_the_do_not_call_list(sessions: sessionmaker[Session]) -> None:
    campaign = _campaign(sessions)
    with sessions() as session:
        add_do_not_call(session, phone="8 916 123-45-67", reason="asked", actor="test")
    rows = [HEADER, GOOD[0], ["2", "Два Номера", "9161234567, 9030001122", "Д-020"], GOOD[2]]
    record = _import(sessions, campaign, _csv(rows)).record
    assert [(i["row"], i["code"], i["imported"]) for i in record.report] == [
        (2, "do_not_call", False),
        (3, "do_not_call", True),
    ]
    statuses = {e.row_number: (e.status, e.phones) for e in _entries(sessions, campaign)}
    assert statuses == {
        2: ("do_not_call", ["+79161234567"]),
        3: ("pending", ["+79030001122"]),
        4: ("pending", ["+79031234567"]),
    }
    assert record.rows_imported == 2


def test_a_database_error_mid_import_leaves_nothing(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    campaign = _campaign(sessions)
    monkeypatch.setattr(registry_import, "FLUSH_EVERY", 2)
    rows = [HEADER] + [
        [str(n), f"Заявитель {n}", f"8 916 000-{n:02d}-00", f"Д-{n}"] for n in range(1, 8)
    ]
    engine = sessions.kw["bind"]
    inserts: list[str] = []

    def fail_on_second_batch(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("INSERT INTO registry_entries"):
            inserts.append(statement)
            if len(inserts) == 2:
                raise RuntimeError("the database went away")

    event.listen(engine, "before_cursor_execute", fail_on_second_batch)
    try:
        with pytest.raises(RuntimeError, match="went away"):
            _import(sessions, campaign, _csv(rows))
    finally:
        event.remove(engine, "before_cursor_execute", fail_on_second_batch)
    assert len(inserts) == 2  # the first batch had been sent
    with sessions() as session:
        assert session.scalar(select(func.count(RegistryImport.id))) == 0
        assert session.scalar(select(func.count(RegistryEntry.id))) == 0
    # And the same file imports fine afterwards.
    assert _import(sessions, campaign, _csv(rows)).record.rows_imported == 7


def test_limits_on_size_and_rows(sessions: sessionmaker[Session]) -> None:
    campaign = _campaign(sessions)
    data = _csv([HEADER, *GOOD])
    with pytest.raises(RegistryFileError, match="CALLAGENT_REGISTRY_MAX_BYTES"):
        _import(sessions, campaign, data, max_bytes=100)
    with pytest.raises(RegistryFileError, match="CALLAGENT_REGISTRY_MAX_ROWS"):
        _import(sessions, campaign, data, max_rows=2)
    assert _import(sessions, campaign, data, max_rows=3).record.rows_imported == 3


# --- the sample registries and the command line -------------------------------------

SAMPLES = Path(registry_import.__file__).parent / "samples"


@pytest.mark.parametrize("name", ["registry_sample.csv", "registry_sample.xlsx"])
def test_the_shipped_samples_import_with_their_bad_rows_reported(name: str) -> None:
    table = read_table((SAMPLES / name).read_bytes(), name)
    prepared = prepare(table)
    assert prepared.header_row == 2  # below the title row
    assert [(i.row, i.code) for i in prepared.issues] == [
        (10, "invalid_phone"),
        (11, "empty_row"),
        (15, "no_phone"),
        (16, "duplicate_in_file"),
        (21, "no_phone"),
    ]
    assert len(prepared.candidates) == 19  # 3 of them invalid: exported with that status
    zones = {p.timezone for c in prepared.candidates for p in c.phones}
    assert {"Europe/Moscow", "Asia/Novosibirsk", "Asia/Vladivostok", "Asia/Omsk"} <= zones
    assert "" in zones  # mobile numbers: the office's zone


@pytest.fixture
def cli_env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("CALLAGENT_DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_cli_add_import_show_export(cli_env: CliRunner, tmp_path: Path) -> None:
    run = functools.partial(cli_env.invoke, cli_app, catch_exceptions=False)
    added = run(["campaigns", "add", "Паспорта", "--mode", "message", "--holiday", "2026-12-31"])
    assert added.exit_code == 0, added.output
    bad = run(["campaigns", "add", "Другая", "--timezone", "Mars/Base"])
    assert bad.exit_code == 2 and "unknown time zone 'Mars/Base'" in bad.output
    imported = run(
        ["registry", "import", str(SAMPLES / "registry_sample.csv"), "--campaign", "Паспорта"]
    )
    assert imported.exit_code == 0, imported.output
    assert "rows: 21; to call: 16; not called: 5" in imported.output
    assert "row    10: not a valid phone number" in imported.output
    assert "row    16: duplicate of row 3" in imported.output
    again = run(
        ["registry", "import", str(SAMPLES / "registry_sample.csv"), "--campaign", "Паспорта"]
    )
    assert again.exit_code == 0 and "imported already" in again.output
    # The XLSX holds the same people: every row is a duplicate, nothing to call: exit 1.
    xlsx = run(
        ["registry", "import", str(SAMPLES / "registry_sample.xlsx"), "--campaign", "Паспорта"]
    )
    assert xlsx.exit_code == 1 and "no row of this file can be called" in xlsx.output
    shown = run(["campaigns", "show", "Паспорта"])
    assert shown.exit_code == 0
    assert "pending 16" in shown.output and "invalid 3" in shown.output
    assert "holidays: 2026-12-31" in shown.output
    listed = run(["campaigns", "list"]).output
    assert "Паспорта" in listed and "3/19 done, 0 in flight" in listed  # invalid ones are done
    out = tmp_path / "back.csv"
    exported = run(
        ["registry", "export", "--campaign", "Паспорта", "--format", "csv", "-o", str(out)]
    )
    assert exported.exit_code == 0, exported.output
    rows = list(csv.reader(io.StringIO(out.read_text("utf-8-sig")), delimiter=";"))
    # row for row (issue #17 item 6): the title row, the header on row 2, a blank row
    assert rows[1][:3] == ["№ п/п", "ФИО заявителя", "Телефон"] and rows[1][8] == "Статус"
    assert rows[10][8] == "пустая строка"  # row 11
    # then the XLSX upload, row for row: all its rows are in the campaign already
    assert len(rows) == 2 * 23 and rows[23 + 1] == rows[1]
    assert rows[23 + 2][8] == "уже в кампании (загрузка 1, строка 3), не звоним"
    engine = make_engine(get_settings().database_url)
    with make_sessionmaker(engine)() as session:
        (entry,) = session.scalars(select(AuditEntry)).all()
    engine.dispose()
    assert entry.action == "campaigns.registry_export" and entry.rows == 2 * 20  # with duplicates
    assert entry.actor.startswith("cli") and entry.detail["format"] == "csv"
    one = tmp_path / "second.csv"  # the XLSX upload alone
    alone = run(["registry", "export", "--campaign", "Паспорта", "--import", "2", "-o", str(one)])
    assert alone.exit_code == 0, alone.output
    rows = list(csv.reader(io.StringIO(one.read_text("utf-8-sig")), delimiter=";"))
    assert len(rows) == 23 and rows[2][8] == "уже в кампании (загрузка 1, строка 3), не звоним"
    nine = run(["registry", "export", "--campaign", "Паспорта", "--import", "9", "-o", str(one)])
    assert nine.exit_code == 2 and "no registry import 9" in nine.output
    missing = run(["registry", "import", str(tmp_path / "nope.csv"), "--campaign", "Паспорта"])
    assert missing.exit_code == 2 and "cannot read" in missing.output
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    result = run(["registry", "import", str(empty), "--campaign", "Паспорта"])
    assert result.exit_code == 2 and "the file is empty" in result.output
    unknown = run(["registry", "import", str(empty), "--campaign", "Нет такой"])
    assert unknown.exit_code == 1 and "no campaign named 'Нет такой'" in unknown.output
    mapped = run(["registry", "import", str(empty), "--campaign", "Паспорта", "--map", "phones"])
    assert mapped.exit_code == 2 and "field=Header" in mapped.output


def test_a_header_without_rows_and_thousands_of_blank_rows() -> None:
    with pytest.raises(RegistryFileError, match=r"a header \(row 1\) but no rows below it"):
        prepare(read_table(_csv([HEADER, [""] * 8, [""] * 8]), "r.csv"))
    # A sheet's formatted blank rows after the data count neither as rows nor for the limit.
    blank = [[None] * 3 for _ in range(3000)]
    data = _xlsx([["ФИО", "Телефон"], ["Орлов Олег", "9160003344"], *blank])
    table = read_table(data, "r.xlsx", max_rows=10)
    assert [number for number, _ in table.rows] == [1, 2]
    with pytest.raises(RegistryFileError, match="more than 1 rows"):
        read_table(
            _xlsx([["ФИО", "Телефон"], ["А", "9160003344"], [], ["Б", "9160003345"]]),
            "r.xlsx",
            max_rows=1,
        )


def test_cli_export_takes_the_format_from_the_file_name(cli_env: CliRunner, tmp_path: Path) -> None:
    run = functools.partial(cli_env.invoke, cli_app, catch_exceptions=False)
    assert run(["campaigns", "add", "Паспорта"]).exit_code == 0
    sample = str(SAMPLES / "registry_sample.csv")
    assert run(["registry", "import", sample, "--campaign", "Паспорта"]).exit_code == 0

    def export(name: str, *extra: str) -> tuple[int, str, Path]:
        out = tmp_path / name
        result = run(["registry", "export", "--campaign", "Паспорта", "-o", str(out), *extra])
        return result.exit_code, result.output, out

    code, output, out = export("out.csv")  # was an XLSX file named .csv
    assert code == 0, output
    rows = list(csv.reader(io.StringIO(out.read_text("utf-8-sig")), delimiter=";"))
    assert rows[1][1] == "ФИО заявителя" and len(rows) == 23
    code, output, out = export("out.XLSX")
    assert code == 0, output
    assert openpyxl.load_workbook(out).active.max_row == 23
    # --format says otherwise: it wins over the name.
    code, output, out = export("report.csv", "--format", "xlsx")
    assert code == 0 and out.read_bytes()[:2] == b"PK"
    for name in ("out.txt", "out"):
        code, output, out = export(name)
        assert code == 2 and "name it .csv or .xlsx, or say --format" in output, output
        assert not out.exists()
    code, output, out = export("out.txt", "--format", "csv")
    assert code == 0 and out.read_text("utf-8-sig").startswith("Реестр")
