"""Registry files that used to crash the import or take gigabytes (issue 15, points 5, 6).

Every file gets an answer: read, or refused with what is wrong, where (row and column),
and what to do; none makes the reading process grow by more than 200 MB (measured in a
child process, the files built here at run time and small on disk).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from callagent.campaigns.registry_import import prepare
from callagent.campaigns.tables import (
    SUPPORTED_ENCODINGS,
    EncodingProblem,
    RegistryFileError,
    read_table,
)
from callagent.cli import app as cli_app
from callagent.config import get_settings
from tests.conftest import running_service
from tests.hostile_registries import (
    blank_lines_csv,
    bomb_xlsx,
    measure_read,
    normal_csv,
    wide_xlsx,
)

MB = 1 << 20
GROWTH_LIMIT = 200 * MB
HEAD = "ФИО;Телефон;Номер дела\n".encode("cp1251")
SHIFT_JIS = "名前,電話\n山田太郎,+79161234567\n".encode("shift_jis")
UTF16_ODD = b"\xff\xfe" + "ФИО;Телефон\nОрлов;9160003344\n".encode("utf-16-le") + b"\x0a"
CP1251_0x98 = HEAD + "Орлов Олег;".encode("cp1251") + b"916\x98;D-1\n"
BROKEN_UTF8 = "ФИО;Телефон\nОрлов;9160003344\nПетров;".encode() + b"\xd0;D-2\n"


@pytest.mark.parametrize(
    ("data", "row", "column", "says"),
    [
        (CP1251_0x98, 2, 2, "the byte 0x98, which is no character in Windows-1251"),
        (SHIFT_JIS, 1, 1, "the byte 0xBC ('ј' in Windows-1251), which no Russian or Ukrainian"),
        (UTF16_ODD, 3, 1, "an incomplete UTF-16 character at the end of the file"),
        (BROKEN_UTF8, 3, 2, "the byte 0xD0, which is no character in UTF-8"),
    ],
    ids=["cp1251-0x98", "shift-jis", "utf16-odd-byte", "broken-utf8"],
)
def test_a_file_in_no_supported_encoding_says_where_and_what_to_do(
    data: bytes, row: int, column: int, says: str
) -> None:
    with pytest.raises(EncodingProblem) as raised:
        read_table(data, "реестр.csv")
    problem = raised.value
    assert (problem.row, problem.column) == (row, column)
    message = str(problem)
    assert message.startswith(f"this file is not in a supported encoding ({SUPPORTED_ENCODINGS})")
    assert f"row {row}, column {column} has {says}" in message
    assert 'save it as "CSV UTF-8"' in message


def test_windows_1251_with_ukrainian_letters_and_typography_is_still_read() -> None:
    text = "ПІБ;Телефон;Примітка\nЇжакевич Ґанна Євгенівна;+380441234567;«зранку» — №5 …\n"
    table = read_table(text.encode("cp1251"), "r.csv")
    assert table.encoding == "cp1251"
    assert table.rows[1][1][0] == "Їжакевич Ґанна Євгенівна"


@pytest.mark.parametrize("length", [131_073, 400_000])
def test_a_cell_longer_than_a_spreadsheet_cell_names_its_row_and_column(length: int) -> None:
    data = "ФИО;Телефон;Примечание\nОрлов;9160003344;".encode() + b"x" * length + b"\n"
    with pytest.raises(RegistryFileError, match=f"row 2, column 3 has a cell of {length} char"):
        read_table(data, "r.csv")
    # An unclosed quote swallows the rest of the file into one cell: the same answer.
    unclosed = 'ФИО;Телефон\nОрлов;"9160003344\n'.encode() + b"a;b\n" * 40_000
    with pytest.raises(RegistryFileError, match=r"row 2, column 2 .* check the quotes"):
        read_table(unclosed, "r.csv")


def test_blank_rows_between_rows_count_against_the_row_limit() -> None:
    data = "ФИО;Телефон\n".encode() + b"\n" * 50 + "Орлов;9160003344\n".encode()
    with pytest.raises(RegistryFileError, match="blank rows between them included"):
        read_table(data, "r.csv", max_rows=10)
    # Blank rows after the last one are nothing, however many.
    tail = "ФИО;Телефон\nОрлов;9160003344\n".encode() + b"\n" * 5000
    assert len(prepare(read_table(tail, "r.csv", max_rows=10)).candidates) == 1


# --- memory: each hostile file read in a child process ------------------------------------


def test_one_value_in_column_xfd_on_100k_rows(tmp_path: Path) -> None:
    path = wide_xlsx(tmp_path / "wide.xlsx", rows=100_000)
    assert path.stat().st_size < 2 * MB
    result = measure_read(path)
    assert result["outcome"] == "refused", result
    assert "row 2 has a value in column 16384; a registry has at most 256" in result["message"]
    assert result["growth"] < GROWTH_LIMIT, result


def test_an_xlsx_zip_bomb_is_refused_before_it_is_unpacked(tmp_path: Path) -> None:
    path = bomb_xlsx(tmp_path / "bomb.xlsx", unpacked=150_000_000)
    assert path.stat().st_size < 2 * MB
    result = measure_read(path, timeout=120)
    assert result["outcome"] == "refused", result
    assert "'xl/sharedStrings.xml' unpacks to" in result["message"]
    assert result["growth"] < GROWTH_LIMIT, result


def test_a_csv_of_blank_lines(tmp_path: Path) -> None:
    path = blank_lines_csv(tmp_path / "blank.csv", size=5_000_000)
    result = measure_read(path, max_rows=100_000)
    assert result["outcome"] == "refused", result
    assert "more than 100000 rows" in result["message"]
    assert result["growth"] < GROWTH_LIMIT, result


def test_a_normal_registry_of_5_mb_is_read_within_the_limit(tmp_path: Path) -> None:
    result = measure_read(normal_csv(tmp_path / "normal.csv", 5_000_000))
    assert result["outcome"] == "read" and result["rows"] > 30_000, result
    assert result["growth"] < GROWTH_LIMIT, result


# --- the API and the command line answer every file ---------------------------------------

BIG_CELL = "ФИО;Телефон\nОрлов;".encode() + b"9" * 140_000 + b"\n"


async def test_the_api_answers_422_with_the_reason_for_every_unreadable_file(
    db_url: str, tmp_path: Path
) -> None:
    wide = wide_xlsx(tmp_path / "wide.xlsx", rows=300).read_bytes()
    files = [
        ("cp1251.csv", CP1251_0x98, "row 2, column 2 has the byte 0x98"),
        ("sjis.csv", SHIFT_JIS, "not in a supported encoding"),
        ("utf16.csv", UTF16_ODD, "incomplete UTF-16 character"),
        ("big.csv", BIG_CELL, "row 2, column 2 has a cell of 140000 characters"),
        ("wide.xlsx", wide, "has a value in column 16384"),
    ]
    async with running_service(db_url) as service:
        client = service.client
        created = await client.post("/api/v1/campaigns", json={"name": "Паспорта"})
        campaign = created.json()["id"]
        for name, data, says in files:
            response = await client.post(
                f"/api/v1/campaigns/{campaign}/registry",
                files={"file": (name, data)},
                headers={"Accept-Language": "en-GB,en;q=0.9"},
            )
            assert response.status_code == 422, (name, response.text)
            assert response.json()["detail"].startswith(f"{name}: ")
            assert says in response.json()["detail"], response.text
        # The encoding problem in the language asked for; Russian by default.
        for query, says in [
            (
                "",
                "файл не в поддерживаемой кодировке (UTF-8, UTF-16, Windows-1251): в строке 2, "
                "столбце 2 стоит байт 0x98",
            ),
            (
                "?lang=uk",
                "файл не в підтримуваному кодуванні (UTF-8, UTF-16, Windows-1251): у "
                "рядку 2, стовпці 2 стоїть байт 0x98",
            ),
        ]:
            response = await client.post(
                f"/api/v1/campaigns/{campaign}/registry{query}",
                files={"file": ("cp1251.csv", CP1251_0x98)},
            )
            assert response.status_code == 422
            assert response.json()["detail"].startswith(f"cp1251.csv: {says}"), response.text
            assert "«CSV UTF-8»" in response.json()["detail"]


@pytest.fixture
def cli_env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("CALLAGENT_DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_the_cli_reports_an_unreadable_file_without_a_traceback(
    cli_env: CliRunner, tmp_path: Path
) -> None:
    run = functools.partial(cli_env.invoke, cli_app, catch_exceptions=False)
    assert run(["campaigns", "add", "Паспорта"]).exit_code == 0
    for name, data in [("cp1251.csv", CP1251_0x98), ("big.csv", BIG_CELL)]:
        path = tmp_path / name
        path.write_bytes(data)
        result = run(["registry", "import", str(path), "--campaign", "Паспорта"])
        assert result.exit_code == 2, result.output
        assert f"callagent: {path}: " in result.output
        assert "Traceback" not in result.output
