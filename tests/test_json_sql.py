"""The SQL path for DECP JSON (parse/json_sql.py) against the streaming reader: same tables.

Every real JSON file and the demo corpus are read both ways into real DuckDB databases; records,
modifications and findings are compared row by row (record ids aside, which are positions here).
"""
from __future__ import annotations

import datetime as dt
import json
import mmap
import resource
import signal
from pathlib import Path

import duckdb
import pytest

from decp_monitor.core.model import Finding
from decp_monitor.parse import _jsonscan, read_decp
from decp_monitor.parse.json_sql import load_json_sql, plan, scan
from decp_monitor.store.writer import BatchWriter

SCHEMA = Path(__file__).resolve().parents[1] / "decp_monitor" / "store" / "schema.sql"
TODAY = dt.date.today()
RECORD_COLUMNS = (
    "position, format, kind, buyer_siret, buyer_name, contract_id, uid, nature, objet, procedure, cpv, amount, "
    "duration_months, notification_date, start_date, publication_date, notification_date_raw, "
    "publication_date_raw, place_code, place_type, place_name, holders, modification_count"
)
MOD_COLUMNS = "r.position, m.position, modification_id, m.notification_date, m.publication_date, m.amount, " \
              "m.duration_months, m.objet"
FINDING_COLUMNS = "position, field, code, severity, message, value, buyer_siret, contract_id"


def _database() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(SCHEMA.read_text(encoding="utf-8"))
    return con


def tables(con) -> dict[str, list[tuple]]:
    return {
        "records": con.execute(f"SELECT {RECORD_COLUMNS} FROM records ORDER BY position").fetchall(),
        "modifications": con.execute(
            f"SELECT {MOD_COLUMNS} FROM record_modifications m JOIN records r USING (record_id) "
            "ORDER BY ALL").fetchall(),
        "findings": con.execute(f"SELECT {FINDING_COLUMNS} FROM findings ORDER BY ALL").fetchall(),
    }


def streaming_tables(path: Path, name: str) -> dict[str, list[tuple]]:
    con = _database()
    writer = BatchWriter(con)
    for item in read_decp(path, name=name):
        writer.add(item)
    writer.flush()
    return tables(con)


def sql_tables(path: Path, name: str, load=load_json_sql):
    """The SQL path's tables (`load`: load_json_sql, or xml_sql's load_xml_sql)."""
    con = _database()
    # every record the typed lane does not read goes to the exact lane, however many they are
    outcome = load(con, path, name, None, 0, today=TODAY, min_bytes=0, max_exact_share=1.0)
    writer = BatchWriter(con)
    for item in outcome.findings:
        writer.add(item)
    writer.flush()
    return outcome, tables(con)


def assert_same(path: Path, name: str = "f.json", load=load_json_sql):
    """Both paths agree; returns the SQL outcome (its reason says when SQL declined the file)."""
    outcome, by_sql = sql_tables(path, name, load)
    if outcome.reason is not None:
        assert by_sql == {"records": [], "modifications": [], "findings": []}  # nothing half-written
        return outcome
    by_stream = streaming_tables(path, name)
    for table in ("records", "modifications", "findings"):
        assert by_sql[table] == by_stream[table], f"{path.name}: {table} differ"
    return outcome


REAL_JSON = sorted((Path("/work/shared/real") / "decp-json").rglob("*.json"))
# Files the SQL path must decline, and why: the streaming reader reads them (its output is then
# the only one, so parity holds by construction). decp_test_2022.json and its bare NaN are read (a copy
# with NaN written null, as the streaming reader reads it).
DECLINED = {
    "decp_21590163800019_2019-01-01_2021-12-31.json": "atypiques",  # "nom " key with a stray space
}


@pytest.mark.parametrize("path", REAL_JSON, ids=lambda p: p.name)
def test_real_json_files_give_the_same_tables_both_ways(path):
    outcome = assert_same(path, name=path.name)
    if path.name in DECLINED:
        assert outcome.reason is not None and DECLINED[path.name] in outcome.reason
    else:
        assert outcome.reason is None, outcome.reason
        assert outcome.format in ("json-2019", "json-2024")


def test_both_2024_arrays_are_read_in_file_order(tmp_path):
    # concessions first, then marchés: positions follow the file, kinds follow the keys
    record = {"id": "X", "acheteur": {"id": "21440036800012"}, "dateNotification": "2024-01-02",
              "datePublicationDonnees": "2024-01-03", "montant": 10}
    path = tmp_path / "b.json"
    path.write_text(json.dumps({"marches": {"contrat-concession": [dict(record, id="C1"), dict(record, id="C2")],
                                            "marche": [dict(record, id="M1")]}}, indent=2))
    outcome = assert_same(path)
    assert outcome.reason is None and outcome.records == 3
    _, by_sql = sql_tables(path, "f.json")
    assert [(r[0], r[2], r[5]) for r in by_sql["records"]] == [
        (0, "concession", "C1"), (1, "concession", "C2"), (2, "marche", "M1")]


BASE = {"_type": "Marché", "id": "2024-001", "acheteur": {"id": "21440036800012", "nom": "Commune de Nantes"},
        "nature": "Marché", "objet": "Travaux", "codeCPV": "45000000-7", "procedure": "Procédure adaptée",
        "lieuExecution": {"code": "44000", "typeCode": "Code postal", "nom": "Nantes"}, "dureeMois": 12,
        "dateNotification": "2024-01-15", "datePublicationDonnees": "2024-02-01", "montant": 1500.5,
        "titulaires": [{"typeIdentifiant": "SIRET", "id": "38000000000014", "denominationSociale": "Eiffage \"Route\""}],
        "modifications": [{"id": 1, "objetModification": "Avenant", "dateNotificationModification": "2024-03-01",
                           "datePublicationDonneesModification": "2024-03-05", "montant": 1600, "dureeMois": 13}]}
# (label, change to BASE, read by the typed lane?) — each record either provably reads the same
# through DuckDB's typed reader, or is routed to the exact lane; both must give the streaming
# reader's tables.
LANES = [
    ("plain", {}, True),
    ("numbers as text", {"montant": "1500.5", "dureeMois": "12", "id": 7}, True),
    ("float id and whole float duration", {"id": 1.5, "dureeMois": 12.0}, True),
    ("date with offset, nulls", {"dateNotification": "2024-01-15+01:00", "dateDebutExecution": None,
                                 "lieuExecution": None, "autoriteConcedante": None, "titulaires": None}, True),
    ("no modifications key", {"modifications": None}, True),
    ("key in another case", {"Montant": "NC", "Acheteur": {"id": "x"}}, True),  # keys match case-sensitively
    ("amount with spaces and comma", {"montant": " 12 000,50 "}, False),
    ("buyer id with spaces", {"acheteur": {"id": "214 400 368 00012"}}, False),
    ("duration not whole", {"dureeMois": 12.5}, False),
    ("boolean text", {"nature": True}, False),
    ("object text", {"objet": {"fr": "Travaux"}}, False),
    ("cpv list", {"codeCPV": ["45000000-7"]}, False),
    ("concession type", {"_type": "Contrat de concession"}, False),
    ("wrapped holder (2024 shape)", {"titulaires": [{"titulaire": {"id": "38000000000014"}},
                                                    {"titulaire": {"id": "38000000000014", "denominationSociale": "A {B}, \"C\""}}]},
     True),
    ("wrapped holder with a null sibling", {"titulaires": [{"titulaire": {"id": "38000000000014"}, "id": None}]}, False),
    ("wrapped holder after an unknown key", {"titulaires": [{"x": 1, "titulaire": {"id": "38000000000014"}}]}, False),
    ("wrapped holder before an unknown key", {"titulaires": [{"titulaire": {"id": "38000000000014"}, "x": 1}]}, False),
    ("wrapped holder with an object inside", {"titulaires": [{"titulaire": {"id": "38000000000014", "x": {}}}]}, False),
    ("empty holder", {"titulaires": [{}]}, False),
    ("null wrapper holder", {"titulaires": [{"titulaire": None}]}, False),
    ("null wrapper modification", {"modifications": [{"modification": None}]}, False),
    ("empty modification", {"modifications": [{}]}, False),
    ("falsy modification object", {"modifications": [{"objetModification": 0, "objet": "Avenant 1"}]}, False),
    ("date in the future", {"datePublicationDonnees": "2099-01-01"}, False),
    ("missing publication date", {"datePublicationDonnees": None}, True),
    ("blank notification date, dated modification", {"dateNotification": "  "}, True),
    ("no dates at all", {"dateNotification": None, "datePublicationDonnees": ""}, True),
    ("holder fields with plain spaces", {"titulaires": [{"id": " 38000000000014 ", "denominationSociale": "Eiffage "}]},
     True),
    ("holder field with another space", {"titulaires": [{"id": "38000000000014\u00a0"}]}, False),
    ("null holder in the list", {"titulaires": [None]}, False),
    ("modification before the contract", {"modifications": [{"dateNotificationModification": "2023-01-01"}]}, False),
    ("invalid siret", {"acheteur": {"id": "21440036800013"}}, False),
    ("absurd amount", {"montant": 2e11}, False),
    # the byte scan tells a key from a value: no key is spaced, so no record's text is searched
    ("string value looking like a key", {"objet": ": x"}, True),
    # (it failed the typed read of the whole array, which then all went to the exact lane)
    ("modification amount not a number", {"modifications": [{"id": 1, "montant": "NC", "dureeMois": "douze"}]}, False),
]


def test_each_record_takes_the_lane_that_reads_it_exactly(tmp_path):
    records = [dict(BASE, id=f"R{i}", **change) if "id" not in change else dict(BASE, **change)
               for i, (_, change, _) in enumerate(LANES)]
    path = tmp_path / "lanes.json"
    path.write_text(json.dumps({"marches": records}, ensure_ascii=False, indent=1), encoding="utf-8")
    outcome = assert_same(path)
    assert outcome.reason is None and outcome.records == len(LANES)
    assert outcome.exact == sum(not fast for _, _, fast in LANES)
    _, by_sql = sql_tables(path, "f.json")
    assert by_sql["modifications"] and any(r[-1] == 0 for r in by_sql["records"])


@pytest.mark.parametrize("record", [
    {"acheteur": "21440036800012"},  # a string where the typed reader wants an object
    {"titulaires": {"titulaire": {"id": "38000000000014"}}},  # an object where it wants a list
    {"modifications": [["x"]]},  # a list where it wants an object
    {"titulaires": [{"titulaire": {"titulaire": {"id": "38000000000014"}}}]},  # wrapped twice: left to the streaming reader
], ids=["buyer_text", "holders_object", "nested_list", "holder_wrapped_twice"])
def test_what_the_typed_reader_rejects_is_read_by_the_exact_lane(tmp_path, record):
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"marches": [BASE, dict(BASE, **record)]}))
    outcome = assert_same(path)
    if outcome.reason is None:
        assert outcome.exact == 2  # the whole array, since DuckDB's typed read failed


@pytest.mark.parametrize("change", [
    {"k" * 2000: 1},  # a key beyond the streaming reader's MAX_KEY_BYTES: it refuses the file there
    {"notes": "a" * ((1 << 20) + 10)},  # a text beyond its MAX_STRING_BYTES: it cuts it (long_value)
], ids=["long_key", "long_text"])
def test_what_the_streaming_reader_cuts_or_refuses_is_left_to_it(tmp_path, change):
    path = tmp_path / "l.json"
    path.write_text(json.dumps({"marches": [BASE, dict(BASE, **change)]}))
    outcome = assert_same(path)
    assert outcome.reason is not None and "limites du lecteur en flux" in outcome.reason


def test_a_file_mostly_for_the_exact_lane_is_left_to_the_streaming_reader(tmp_path):
    # Three records of four need the exact lane (amount "NC"): above MAX_EXACT_SHARE the
    # streaming reader is quicker, and nothing is written before the file is declined.
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"marches": [BASE] + [dict(BASE, id=f"X{i}", montant="NC") for i in range(3)]}))
    con = _database()
    outcome = load_json_sql(con, path, "m.json", None, 0, today=TODAY, min_bytes=0)
    assert outcome.reason is not None and "3 contrats sur 4 hors de la voie rapide" in outcome.reason
    assert tables(con) == {"records": [], "modifications": [], "findings": []}
    outcome = load_json_sql(con, path, "m.json", None, 0, today=TODAY, min_bytes=0, max_exact_share=0.75)
    assert outcome.reason is None and outcome.exact == 3 and outcome.records == 4


@pytest.mark.parametrize("key", ["nom ", " nom", "nom\u00a0", "nom\\u00a0", "nom\\t", "\u2003nom", "\\u2003nom"])
def test_keys_with_stray_spaces_are_never_read_by_the_typed_lane(tmp_path, key):
    # The typed reader would silently miss "nom " (no column of that name); the Python
    # normaliser strips it. The record goes to the exact lane, which declines the file.
    path = tmp_path / "k.json"
    text = json.dumps({"marches": [BASE, dict(BASE, acheteur={"id": "21440036800012", "NOM": "Nantes"})]})
    path.write_text(text.replace('"NOM"', '"' + key + '"'))
    outcome = assert_same(path)
    assert outcome.reason is not None and "atypiques" in outcome.reason


@pytest.mark.parametrize("content, reason", [
    # a letter that starts no NaN: the file's first NaN, then what the copy without it met
    (b'{"marches": [{"id": "A", "montant": NaN, "nature": Nope}]}', "NaN ou Infinity (JSON non standard) (octet 36) ; "
                                                                   "copie où elles valent null : valeurs NaN"),
    (b'\xef\xbb\xbf{"marches": [{"id": "A"}]}', "BOM"),
    (b'{"marches": [{"id": "A"}, {"id": "B"', "contenu inattendu"),
    (b'{"marches": [{"id": "A"}, {"id": "B"]}', "DuckDB"),
    (b'{"marches": [{"id": "caf\xe9"}]}', "DuckDB"),
    (b'{"marches": [{"id": "A", "id": "B"}]}', "atypiques"),
    (b'{"marches": [{"id": "A", "titulaires": [[{"id": "1"}]]}]}', "atypiques"),
    (b'{"marches": [5]}', "atypiques"),
    (b'{"source": 1, "marches": [{"id": "A"}]}', "racine"),
    (b'{"marches": [{"id": "A"}], "source": "x"}', "contenu inattendu"),
    (b'{"marches": [{"id": ' + b'[' * 70000 + b']' * 70000 + b'}]}', "imbrication"),
    # DuckDB reads a comma before a closing bracket (yajl, the streaming reader's, refuses the file)
    (b'{"marches": [{"id": "A", "montant": 1, }]}', "virgule en trop avant une fin d'objet ou de liste (octet 39)"),
    (b'{"marches": [{"id": "A", "acheteur": {"id": "1",\n\t}}]}', "virgule en trop"),
    (b'{"marches": [{"id": "A", "titulaires": [{"id": "1"}, ]}]}', "virgule en trop"),
    (b'{"marches": [{"id": "A", "montant": NaN, "x": [1,]}]}', "copie où elles valent null : virgule en trop"),
], ids=["bare_word", "bom", "truncated", "syntax", "latin1", "duplicate_key", "nested_list", "not_an_object",
        "other_root", "key_after", "deep", "comma_object", "comma_nested", "comma_list", "comma_nan"])
def test_what_duckdb_cannot_read_exactly_is_declined_with_a_french_reason(tmp_path, content, reason):
    path = tmp_path / "f.json"
    path.write_bytes(content)
    outcome = assert_same(path)
    assert outcome.reason is not None and reason in outcome.reason


@pytest.mark.parametrize("value", [
    '" 12 000,50 "', '"NC"', '"12abc"', '-5', '1e12', '123456789012.5', '"1e400"', '7', 'true', 'null', '"  "',
])
@pytest.mark.parametrize("field", ["montant", "dureeMois"])
def test_numbers_give_the_same_values_and_messages(tmp_path, field, value):
    path = tmp_path / "n.json"
    template = '{"marches": [{"id": "A", "acheteur": {"id": "21440036800012"}, "FIELD": VALUE}]}'
    path.write_text(template.replace("FIELD", field).replace("VALUE", value))
    outcome = assert_same(path)
    assert outcome.reason is None


@pytest.mark.parametrize("value", [
    '"2024-02-30"', '"0222-01-01"', '"2024-01-15+01:00"', '"2024-01-15T10:00:00Z"', '"15/01/2024"', '"nan"',
    '"2099-01-01"', '" 2024-01-15 "', '20240115', '{"a": 1}', '"l\'an 2024"',
])
def test_dates_give_the_same_values_and_messages(tmp_path, value):
    path = tmp_path / "d.json"
    template = ('{"marches": [{"id": "A", "acheteur": {"id": "21440036800013"}, "dateNotification": VALUE, '
                '"datePublicationDonnees": "2024-01-10", "modifications": [{"modification": '
                '{"dateNotificationModification": VALUE, "montant": "-3"}}]}]}')
    path.write_text(template.replace("VALUE", value))
    outcome = assert_same(path)
    assert outcome.reason is None


@pytest.fixture(scope="module")
def demo_corpus(tmp_path_factory):
    from decp_monitor.demo import corpus as demo

    out = tmp_path_factory.mktemp("demo") / "demo-corpus"
    # Small but complete: every platform, format and file defect of the generator (each JSON file
    # costs a query plan on the SQL path, so the corpus is kept to a few hundred contracts).
    demo.generate_corpus(out, seed=7, buyers=60, contracts=500)
    return out


def _build(data_dir: Path, corpus: Path, reader: str, monkeypatch) -> duckdb.DuckDBPyConnection:
    from decp_monitor.parse import json_sql
    from decp_monitor.pipeline import build_version
    from decp_monitor.pipeline.files import load_paths
    from decp_monitor.store.versions import Store

    monkeypatch.setenv("DECP_JSON_READER", reader)
    monkeypatch.setattr(json_sql, "MIN_SQL_BYTES", 0)  # every demo file is small: force the SQL path
    monkeypatch.setattr(json_sql, "MAX_EXACT_SHARE", 1.0)  # and its exact lane, however many records need it
    store = Store(data_dir)
    with build_version(store, "demo", meta={"as_of": "2026-09-30"}) as build:
        load_paths(build, [corpus])
    return store.connect()


@pytest.mark.slow  # every demo file planned on the SQL path: minutes on 2 cores
def test_demo_database_findings_and_verdicts_do_not_change(demo_corpus, tmp_path, monkeypatch):
    by_stream = _build(tmp_path / "flux", demo_corpus, "flux", monkeypatch)
    by_sql = _build(tmp_path / "sql", demo_corpus, "sql", monkeypatch)
    queries = {
        "records": f"SELECT regexp_extract(source_file, '[^/]+$'), record_id, {RECORD_COLUMNS} FROM records "
                   "ORDER BY ALL",
        "modifications": "SELECT * FROM record_modifications ORDER BY ALL",
        "findings": f"SELECT regexp_extract(source_file, '[^/]+$'), {FINDING_COLUMNS} FROM findings ORDER BY ALL",
        "finding codes per file": "SELECT regexp_extract(source_file, '[^/]+$'), code, count(*) FROM findings "
                                  "GROUP BY ALL ORDER BY ALL",
        "buyer verdicts": "SELECT * EXCLUDE (computed_at) FROM buyer_compliance ORDER BY ALL"
        if "computed_at" in [c[0] for c in by_sql.execute("DESCRIBE buyer_compliance").fetchall()]
        else "SELECT * FROM buyer_compliance ORDER BY ALL",
        "contracts": "SELECT * EXCLUDE (record_id) FROM contracts ORDER BY ALL"
        if "record_id" in [c[0] for c in by_sql.execute("DESCRIBE contracts").fetchall()]
        else "SELECT * FROM contracts ORDER BY ALL",
    }
    for label, query in queries.items():
        assert by_sql.execute(query).fetchall() == by_stream.execute(query).fetchall(), label
    readers = dict(by_sql.execute("SELECT reader, count(*) FROM file_readers GROUP BY ALL").fetchall())
    assert readers.get("DuckDB (SQL)", 0) > 0 and readers.get("lecteur en flux", 0) > 0
    reasons = by_sql.execute("SELECT DISTINCT reason FROM file_readers WHERE reader = 'lecteur en flux' "
                             "AND reason IS NOT NULL").fetchall()
    assert reasons  # the fallback always says why, in French
    assert by_stream.execute("SELECT DISTINCT reader FROM file_readers").fetchall() == [("lecteur en flux",)]
    by_sql.close()
    by_stream.close()


def test_python_whitespace_is_every_space_of_str_strip():
    from decp_monitor.parse.json_sql import PY_WHITESPACE

    assert PY_WHITESPACE == "".join(chr(c) for c in range(0x110000) if chr(c).isspace())


def test_reader_choice_is_explicit(monkeypatch):
    from decp_monitor.pipeline.files import json_reader

    monkeypatch.delenv("DECP_JSON_READER", raising=False)
    assert json_reader() == "sql"
    monkeypatch.setenv("DECP_JSON_READER", "FLUX")
    assert json_reader() == "flux"
    monkeypatch.setenv("DECP_JSON_READER", "pandas")
    with pytest.raises(ValueError, match="DECP_JSON_READER"):
        json_reader()


@pytest.mark.parametrize("content, bare", [
    (b'{"marches": [{"id": "A", "montant": NaN, "dureeMois": Infinity}, {"id": "B", "montant": -Infinity}]}', 3),
    # in holders, modifications and where the exact lane reads (a concession), beside the text "NaN"
    (b'{"marches": [{"id": "A", "objet": "NaN \\" NaN", "titulaires": [{"id": NaN, "denominationSociale": "X"}],'
    b' "modifications": [{"id": 1, "montant": NaN, "dateNotificationModification": "2024-03-01"}]},'
    b' {"_type": "Contrat de concession", "id": "C", "valeurGlobale": NaN, "concessionnaires": NaN}]}', 4),
    # the 2024 shape, both arrays
    (b'{"marches": {"marche": [{"id": "A", "montant": NaN}], "contrat-concession": [{"id": "C", "valeurGlobale": NaN}]}}', 2),
], ids=["2019", "everywhere", "2024"])
def test_bare_nan_is_read_as_the_streaming_reader_reads_it(tmp_path, content, bare):
    path = tmp_path / "f.json"
    path.write_bytes(content)
    outcome = assert_same(path)
    assert outcome.reason is None, outcome.reason
    assert [f.code for f in outcome.findings] == ["non_standard_json"]
    assert outcome.findings[0].message.startswith(f"JSON non standard : {bare} valeur(s)")


def test_the_nan_copy_rewrites_bare_values_only(tmp_path):
    source, copy = tmp_path / "s.json", tmp_path / "c.json"
    source.write_bytes(b'[NaN, "NaN", "a \\" -Infinity", -Infinity, Infinity, "\\\\", NaN, -1]')
    assert _jsonscan.sanitise(str(source), str(copy)) == 4
    assert copy.read_bytes() == b'[null, "NaN", "a \\" -Infinity", null, null, "\\\\", null, -1]'
    assert json.loads(copy.read_bytes()) == [None, "NaN", 'a " -Infinity', None, None, "\\", None, -1]


def test_a_bare_letter_that_starts_no_nan_is_declined_without_a_copy(tmp_path, monkeypatch):
    """The copy writes only NaN/Infinity null: a first bare letter that starts neither (a bare None,
    as Python's repr writes it) would stay in it, and the copy of a whole file be read for nothing."""
    copies = []
    sanitise = _jsonscan.sanitise
    monkeypatch.setattr(_jsonscan, "sanitise", lambda *args: copies.append(args) or sanitise(*args))
    path = tmp_path / "f.json"
    path.write_bytes(b'{"marches": [{"id": "A", "montant": None, "dureeMois": NaN}]}')
    outcome = assert_same(path)
    assert outcome.reason == "valeurs NaN ou Infinity (JSON non standard) (octet 36)" and copies == []
    path.write_bytes(b'{"marches": [{"id": "A", "montant": -Infinity, "dureeMois": None}]}')
    outcome = assert_same(path)  # a NaN first: the copy is written, and it says what it still holds
    assert "copie où elles valent null : valeurs NaN" in outcome.reason and len(copies) == 1


def test_a_nan_copy_that_cannot_be_written_leaves_the_file_to_the_streaming_reader(tmp_path):
    """A real write failure (the file size limit: EFBIG, as a full disk gives ENOSPC): a French reason,
    nothing written, and the streaming reader reads the file whole."""
    path = tmp_path / "f.json"
    path.write_bytes(b'{"marches": [' + b", ".join([b'{"id": "A", "montant": NaN}'] * 200) + b']}')
    previous_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1024, hard))
    try:
        outcome, by_sql = sql_tables(path, "f.json")
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous_handler)
    # said once, in French (« valeurs … » : elles)
    assert outcome.reason is not None and outcome.reason.startswith("valeurs NaN ou Infinity (JSON non standard) (octet ")
    assert outcome.reason.count("copie") == 1 and " ; copie où elles valent null : écriture impossible (" in outcome.reason
    assert by_sql == {"records": [], "modifications": [], "findings": []}


def test_pieces_that_cannot_be_written_leave_the_file_to_the_streaming_reader(tmp_path, monkeypatch):
    """A piece's copy that fails (the file size limit: EFBIG, as a full disk gives ENOSPC; a NaN file
    needs a second copy, of its sanitised copy): a French reason, nothing written, no temporary
    file left. It raised OSError, which stopped the whole build."""
    import tempfile

    from decp_monitor.parse import json_sql

    monkeypatch.setattr(json_sql, "MIN_CUT_BYTES", 2_000)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    path = tmp_path / "f.json"
    path.write_text(json.dumps({"marches": records_of(40)}))
    previous_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (path.stat().st_size // 6, hard))  # half a piece
    try:
        outcome, by_sql = sql_tables(path, "f.json", lambda *args, **kw: load_json_sql(*args, pieces=3, **kw))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous_handler)
    assert outcome.reason is not None and outcome.reason.startswith("écriture des morceaux impossible (")
    assert by_sql == {"records": [], "modifications": [], "findings": []}
    assert list((tmp_path / "tmp").iterdir()) == []


def test_the_byte_scan_tells_strings_from_structure(tmp_path):
    def scanned(word: bytes):
        body = b'[{"id": "x' + word + b'"}, {"id": "B"}]'
        path = tmp_path / "s.json"
        path.write_bytes(body)
        return scan(path, plan(body)[1])

    assert scanned("\ufffd \ufffd".encode()).replacement == 2
    assert "NaN" in scanned(b'", "m": NaN, "x": "').reason
    assert "NaN" in scanned(b'", "m": -Infinity, "x": "').reason
    assert not scanned(b'", "m": "NaN", "x": "').reason  # a text, which DuckDB reads as the reader does
    assert not scanned(b', }, ]').reason and "virgule" in scanned(b'", "m": [1, ], "x": "').reason
    assert scanned(b'", "m ": 1, "x": "').spaced_keys
    assert scanned(rb'", "\u00a0m": 1, "x": "').spaced_keys  # an escape in a key
    assert scanned('", "\u00a0m": 1, "x": "'.encode()).spaced_keys  # a no-break space, raw
    assert scanned(" \u3000\", \"m\u3000\": 1, \"x\": \"".encode()).spaced_keys
    assert not scanned(b'", "m": " 1 ", "x": "').spaced_keys  # spaces in a value are the normaliser's
    # an escaped quote does not end the string, brackets in text are not structure
    plain = scanned(rb'\\\"}, {[\"x')
    assert plain.reason == "" and [len(starts) for starts in plain.starts] == [2]


def test_the_byte_scan_sees_nesting_anywhere_and_only_outside_strings(tmp_path):
    path = tmp_path / "d.json"
    deep = b"[" * 200 + b"]" * 200  # balanced within a few bytes: no read boundary sees it
    path.write_bytes(b'{"marches": [{"id": "A", "x": ' + deep + b'}]}')
    assert "imbrication" in scan(path, plan(path.read_bytes())[1]).reason
    path.write_bytes(b'{"marches": [{"id": "A", "x": "' + deep + b'"}]}')
    assert scan(path, plan(path.read_bytes())[1]).reason == ""
    outcome = load_json_sql(_database(), path, "f.json", None, 0, today=TODAY, min_bytes=0, max_exact_share=1.0)
    assert outcome.reason is None and outcome.records == 1


def test_the_byte_scan_does_not_keep_the_file_resident(tmp_path):
    def resident_mb() -> float:
        status = Path("/proc/self/status").read_text()
        return int(status.split("VmRSS:")[1].split()[0]) / 1024

    record = b'{"id": "A", "objet": "' + b"x" * 1000 + b'"}, '
    path = tmp_path / "big.json"
    path.write_bytes(b'{"marches": {"marche": [' + record * 60_000 + b'{"id": "B"}], '
                     b'"contrat-concession": [{"id": "C"}]}}')  # 61 MB; plan() finds the second array
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        before = resident_mb()
        assert plan(mm)[0] == "json-2024" and len(plan(mm)[1]) == 2
        scanned = scan(path, plan(mm)[1])
        assert scanned.reason == "" and [len(starts) for starts in scanned.starts] == [60_001, 1]
        assert resident_mb() - before < 25


def records_of(n: int, **change) -> list[dict]:
    """n records like BASE, each its own contract, two holders each (nested boundaries to avoid)."""
    holders = [{"id": "38000000000014", "denominationSociale": "A"}, {"id": "38000000000014", "denominationSociale": "B"}]
    return [dict(BASE, id=f"2024-{i:04d}", titulaires=holders, **change) for i in range(n)]


@pytest.mark.parametrize("shape", ["2019", "2024", "bare", "one_line"])
def test_an_array_read_in_pieces_gives_the_same_tables(tmp_path, monkeypatch, shape):
    from decp_monitor.parse import json_sql

    monkeypatch.setattr(json_sql, "MIN_CUT_BYTES", 2_000)  # pieces of a few records
    records = records_of(40)
    content = {"2019": {"marches": records}, "2024": {"marches": {"marche": records[:25], "contrat-concession": records[25:]}},
               "bare": records, "one_line": {"marches": records}}[shape]
    path = tmp_path / "p.json"
    path.write_text(json.dumps(content, ensure_ascii=False, indent=None if shape == "one_line" else 1))
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        arrays = plan(mm)[1]
        pieces = [piece for array, starts in zip(arrays, scan(path, arrays).starts)
                  for piece in json_sql.cut(mm, array, 3, starts)]
    assert len(pieces) == 3 * len(arrays)  # each array cut twice, between records
    con = _database()
    outcome = load_json_sql(con, path, "f.json", None, 0, today=TODAY, min_bytes=0, pieces=3)
    assert outcome.reason is None and outcome.records == 40
    assert tables(con) == streaming_tables(path, "f.json")
    assert [r[0] for r in tables(con)["records"]] == list(range(40))


def test_a_file_declined_in_pieces_is_not_read_again_uncut(tmp_path, monkeypatch):
    # Only DuckDB refusing a piece's JSON says the cut was wrong; a file declined for what it holds
    # (here most records for the exact lane) would be declined uncut too: one reading, not two.
    from decp_monitor.parse import json_sql

    monkeypatch.setattr(json_sql, "MIN_CUT_BYTES", 2_000)
    readings = []
    load_parts = json_sql._load_parts
    monkeypatch.setattr(json_sql, "_load_parts", lambda con, parts, *a: readings.append(len(parts))
                        or load_parts(con, parts, *a))
    path = tmp_path / "d.json"
    path.write_text(json.dumps({"marches": [dict(r, montant="NC") for r in records_of(40)]}, indent=1))
    outcome = load_json_sql(_database(), path, "f.json", None, 0, today=TODAY, min_bytes=0, pieces=3)
    assert outcome.reason is not None and "hors de la voie rapide" in outcome.reason
    assert readings == [3]


def test_brackets_and_quotes_in_text_do_not_mislead_a_cut(tmp_path, monkeypatch):
    from decp_monitor.parse import json_sql

    monkeypatch.setattr(json_sql, "MIN_CUT_BYTES", 2_000)
    # Brackets and escaped quotes in texts look like structure to a byte count (the cut before
    # the C scan could fall between two holders); the scan tells strings apart.
    records = records_of(40)
    for i in range(40):
        records[i]["objet"] = 'Lot }}], {"id": "x\\"}'
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"marches": records}, indent=1))
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        arrays = plan(mm)[1]
        pieces = json_sql.cut(mm, arrays[0], 3, scan(path, arrays).starts[0])
        texts = [b"[" * piece.opens + mm[piece.start:piece.end] + b"]" * piece.closes for piece in pieces]
    assert len(pieces) == 3
    assert sum(len(json.loads(text)) for text in texts) == 40  # each piece whole records, valid JSON
    con = _database()
    outcome = load_json_sql(con, path, "f.json", None, 0, today=TODAY, min_bytes=0, pieces=3)
    assert outcome.reason is None and outcome.records == 40
    assert tables(con) == streaming_tables(path, "f.json")


def test_a_failed_write_raises_instead_of_sending_the_file_to_the_streaming_reader(tmp_path, monkeypatch):
    # Rows may already be written: reading the file again would count its records twice.
    from decp_monitor.parse import json_sql

    def failing_write(*args, **kwargs):
        raise duckdb.IOException("disque plein")

    monkeypatch.setattr(json_sql, "_write", failing_write)
    path = tmp_path / "w.json"
    path.write_text(json.dumps({"marches": records_of(3)}))
    con = _database()
    with pytest.raises(duckdb.IOException):
        load_json_sql(con, path, "f.json", None, 0, today=TODAY, min_bytes=0)
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name IN ('decp_fast', 'decp_stage', 'decp_routed')").fetchall() == [(0,)]


def _routings(monkeypatch) -> list[int]:
    """Records the routing read by offset, per part (a call that declined records nothing)."""
    from decp_monitor.parse import json_sql

    calls: list[int] = []
    route = json_sql._route_by_offset

    def counted(con, texts):
        done = route(con, texts)
        if done:
            calls.append(con.execute("SELECT count(*) FROM decp_routed").fetchall()[0][0])
        return done

    monkeypatch.setattr(json_sql, "_route_by_offset", counted)
    return calls


@pytest.mark.parametrize("pieces", [1, 3])
def test_records_for_the_exact_lane_are_read_at_their_offsets(tmp_path, monkeypatch, pieces):
    from decp_monitor.parse import json_sql

    monkeypatch.setattr(json_sql, "MIN_CUT_BYTES", 2_000)
    calls = _routings(monkeypatch)
    records = records_of(40)
    for i in (0, 7, 21, 39):  # the first, the last, inside pieces: an invalid SIRET, a stray type
        records[i] = dict(records[i], acheteur={"id": "21440036800013"}) if i % 2 else dict(records[i], montant="NC")
    path = tmp_path / "o.json"
    path.write_text(json.dumps({"marches": records}, indent=1 if pieces == 1 else None))
    con = _database()
    outcome = load_json_sql(con, path, "f.json", None, 0, today=TODAY, min_bytes=0, pieces=pieces)
    assert outcome.reason is None and outcome.records == 40 and outcome.exact == 4
    assert sum(calls) == 4 and len(calls) == pieces
    assert tables(con) == streaming_tables(path, "f.json")


def test_bare_nan_copy_cut_in_pieces_is_routed_by_the_copys_offsets(tmp_path, monkeypatch):
    """The sanitised copy is cut and its records for the exact lane read at their offsets: those of
    the copy (-Infinity becomes null: 5 bytes shorter each), not of the file."""
    from decp_monitor.parse import json_sql

    monkeypatch.setattr(json_sql, "MIN_CUT_BYTES", 2_000)
    calls = _routings(monkeypatch)
    records = records_of(20, dureeMois="@")
    for i in (0, 7, 19):
        records[i] = dict(records[i], acheteur={"id": "21440036800013"}) if i % 2 else dict(records[i], montant="NC")
    path = tmp_path / "n.json"
    path.write_text(json.dumps({"marches": records}, indent=1).replace('"@"', "-Infinity"))
    con = _database()
    outcome = load_json_sql(con, path, "f.json", None, 0, today=TODAY, min_bytes=0, pieces=2)
    assert outcome.reason is None and outcome.records == 20 and outcome.exact == 3
    assert sorted(calls) == [1, 2]
    assert [f.code for f in outcome.findings] == ["non_standard_json"]
    writer = BatchWriter(con)
    writer.add(outcome.findings[0])
    writer.flush()
    assert tables(con) == streaming_tables(path, "f.json")


def test_several_files_are_read_as_one_files_records(tmp_path, monkeypatch):
    """load_json_files (xml_sql's pieces): positions, ids and findings run on across the files, an
    empty one included, and the records for the exact lane are read at their offsets in their own file."""
    from decp_monitor.parse.json_sql import load_json_files

    calls = _routings(monkeypatch)
    records = records_of(12)
    for i in (0, 6, 11):  # the first record, one inside, the last: each file's offsets, each file's path
        records[i] = dict(records[i], montant="NC")
    paths = []
    for k, group in enumerate([records[:5], [], records[5:]]):
        paths.append(tmp_path / f"piece-{k}.json")
        paths[-1].write_text(json.dumps(group, indent=1))
    whole = tmp_path / "whole.json"
    whole.write_text(json.dumps(records, indent=1))
    con = _database()
    outcome = load_json_files(con, paths, "f.json", None, 100, today=TODAY)
    assert outcome.reason is None and outcome.records == 12 and outcome.exact == 3 and outcome.findings == []
    assert sorted(calls) == [0, 1, 2]
    assert tables(con) == streaming_tables(whole, "f.json")
    assert con.execute("SELECT list(record_id - position ORDER BY position) FROM records").fetchall()[0][0] == [100] * 12


def test_a_file_declined_among_several_read_as_one_leaves_nothing_written(tmp_path):
    from decp_monitor.parse.json_sql import load_json_files

    records = records_of(6)
    paths = [tmp_path / f"piece-{k}.json" for k in range(3)]
    for k, path in enumerate(paths):
        path.write_text(json.dumps(records[2 * k:2 * k + 2], indent=1))
    # the middle one: not UTF-8, which the byte scan lets through and DuckDB refuses while reading
    paths[1].write_bytes(paths[1].read_bytes().replace(b'"objet": "', b'"objet": "caf\xe9 ', 1))
    con = _database()
    outcome = load_json_files(con, paths, "f.json", None, 0, today=TODAY)
    assert outcome.reason is not None and outcome.reason.startswith("refusé par DuckDB")
    assert tables(con) == {"records": [], "modifications": [], "findings": []}


@pytest.mark.parametrize("content, by_offset", [
    ({"marches": [dict(BASE)]}, True),
    ({"marches": [dict(BASE, **{"objet ": "x"})]}, False),  # a key with a stray space: every text searched
    ({"marches": [dict(BASE, titulaires=[{"titulaire": {"id": "1"}}])]}, False),  # 2024 wrappers
    ({"marches": [dict(BASE), None]}, False),  # something else than an object: offsets are not positions
    ({"marches": [dict(BASE, **{"k" * 300: 1})]}, False),  # a key past the streaming reader's bound
    ({"marches": [dict(BASE, objet="x" * (1 << 20))]}, False),  # a record past its bound on texts
])
def test_the_routing_reads_by_offset_only_what_the_scan_vouches_for(tmp_path, monkeypatch, content, by_offset):
    calls = _routings(monkeypatch)
    path = tmp_path / "v.json"
    path.write_text(json.dumps(content))
    assert scan(path, plan(path.read_bytes())[1]).by_offset is by_offset
    assert_same(path)  # either way, the same tables as the streaming reader
    assert bool(calls) is by_offset


def test_too_many_bytes_for_the_exact_lane_are_read_again_by_duckdb(tmp_path, monkeypatch):
    from decp_monitor.parse import json_sql

    calls = _routings(monkeypatch)
    monkeypatch.setattr(json_sql, "ROUTED_BYTES", 100)
    path = tmp_path / "b.json"
    path.write_text(json.dumps({"marches": [dict(r, montant="NC") for r in records_of(3)] + records_of(3)}))
    con = _database()
    outcome = load_json_sql(con, path, "f.json", None, 0, today=TODAY, min_bytes=0)
    assert outcome.reason is None and outcome.exact == 3 and calls == []
    assert tables(con) == streaming_tables(path, "f.json")


RECORD_HEAD = b'{"marches": [{"id": "A", "acheteur": {"id": "21440036800012"}, "extra": '


@pytest.mark.parametrize("depth", [10_000, 100])
def test_nesting_opened_and_closed_within_a_few_bytes_is_declined(tmp_path, depth):
    # 100 levels, under the old watch of 128, are beyond the streaming reader's own rule
    # (json_reader.MAX_DEPTH = 64), which refuses the file: the SQL path must not read it instead
    path = tmp_path / "deep.json"
    path.write_bytes(RECORD_HEAD + b"[" * depth + b"]" * depth + b"}]}")
    outcome = assert_same(path)
    assert outcome.reason is not None and "imbrication" in outcome.reason
    assert [item.code for item in read_decp(path) if isinstance(item, Finding)] == ["file_unreadable"]


def test_nesting_the_streaming_reader_accepts_is_read(tmp_path):
    path = tmp_path / "nested.json"
    path.write_bytes(RECORD_HEAD + b"[" * 20 + b"]" * 20 + b"}]}")
    outcome = assert_same(path)
    assert outcome.reason is None and outcome.records == 1
