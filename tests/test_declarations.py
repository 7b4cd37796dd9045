import csv

import pytest

from decp_monitor.core.model import Declaration, Finding
from decp_monitor.parse.declarations import looks_like_declaration_csv, read_declarations

VALID = "21440036800012"  # Luhn-valid
VALID_2 = "79248336400024"


def read(data: bytes):
    items = list(read_declarations(data, name="decl.csv"))
    return [i for i in items if isinstance(i, Declaration)], [i for i in items if isinstance(i, Finding)]


def test_official_example_semicolon_utf8():
    data = (
        "siretAcheteur;urlProfilAcheteur;urlDCAT;coordonnees\n"
        f'{VALID_2};http://monacheteur.com/profil;http://dcat.monacheteur.com/catalog.ttl;"Service Achat, 75007 Paris"\n'
    ).encode()
    decls, findings = read(data)
    assert findings == []
    assert [(d.siret, d.url_profil_acheteur, d.url_dcat, d.coordonnees, d.line) for d in decls] == [
        (VALID_2, "http://monacheteur.com/profil", "http://dcat.monacheteur.com/catalog.ttl", "Service Achat, 75007 Paris", 2)
    ]


def test_comma_separated_is_sniffed():
    data = f"siretAcheteur,urlProfilAcheteur,urlDCAT,coordonnees\n{VALID},https://a.fr/,,\"1 rue X; 44000 Nantes\"\n".encode()
    decls, _ = read(data)
    assert decls[0].siret == VALID and decls[0].coordonnees == "1 rue X; 44000 Nantes"
    assert decls[0].url_dcat is None


@pytest.mark.parametrize("spelling", ["coordonnees", "coordonnnées", "coordonnnees", "Coordonnées", " COORDONNEES "])
def test_header_spelling_variants(spelling):
    data = f"SiretAcheteur; url Profil Acheteur ;{spelling}\n{VALID};https://a.fr;Mairie\n".encode()
    decls, findings = read(data)
    assert findings == []
    assert decls[0].coordonnees == "Mairie" and decls[0].url_profil_acheteur == "https://a.fr"


def test_latin1_file_falls_back_with_a_finding():
    data = f"siretAcheteur;urlProfilAcheteur;coordonnees\n{VALID};https://a.fr;Hôtel de Région\n".encode("latin-1")
    decls, findings = read(data)
    assert decls[0].coordonnees == "Hôtel de Région"
    assert [f.code for f in findings] == ["encoding_fallback"]


def test_bom_crlf_lf_mix_and_multiline_quoted_field():
    data = (
        b"\xef\xbb\xbfsiretAcheteur;urlProfilAcheteur;coordonnees\r\n"
        + f'{VALID};https://a.fr;"Ligne 1\nLigne 2\r\nLigne 3"\r\n'.encode()
        + f"{VALID_2};https://b.fr;B\n".encode()
    )
    decls, findings = read(data)
    assert [f.code for f in findings] == ["utf8_bom"]
    assert [d.siret for d in decls] == [VALID, VALID_2]
    assert decls[0].coordonnees == "Ligne 1\nLigne 2\r\nLigne 3"
    assert [d.line for d in decls] == [2, 5]


def test_spreadsheet_mangled_siret_is_never_guessed():
    decls, findings = read(b"siretAcheteur;urlProfilAcheteur\n2,10104E+13;http://x.fr/\n")
    assert decls[0].siret is None and decls[0].siret_raw == "2,10104E+13"
    assert [(f.code, f.position, f.value) for f in findings] == [("declaration_siret_mangled", 2, "2,10104E+13")]


def test_invalid_siret_is_a_finding():
    decls, findings = read(b"siretAcheteur;urlProfilAcheteur\n21440036800013;http://x.fr/\n1234;http://y.fr/\n")
    assert [f.code for f in findings] == ["invalid_siret", "invalid_siret"]
    # 14 digits with a bad key are kept (they may match the buyer's own files); 4 digits are not a SIRET.
    assert [d.siret for d in decls] == ["21440036800013", None]


def test_urls_are_stripped_and_bad_urls_reported():
    decls, findings = read(f"siretAcheteur;urlProfilAcheteur;urlDCAT\n{VALID};https://a.fr/x/ ;pas une url\n".encode())
    assert decls[0].url_profil_acheteur == "https://a.fr/x/"
    assert [(f.code, f.field) for f in findings] == [("invalid_url", "urlDCAT")]


def test_missing_siret_column_is_a_finding_not_a_crash():
    decls, findings = read(b"name,url,status,resourceId\nmarches.cnes.fr,https://marches.cnes.fr,accessible,\n")
    assert decls == []
    assert [f.code for f in findings] == ["declaration_missing_column"]


def test_klekoon_header_glued_to_first_row():
    data = (
        f"siretAcheteur;urlProfilAcheteur;urlDCAT;coordonnnees{VALID};https://www.klekoon.com/a;https://www.klekoon.com/dcat/1;Mairie\r\n"
        f"{VALID_2};https://www.klekoon.com/b;;Mairie B\r\n"
    ).encode("latin-1")
    decls, findings = read(data)
    assert [d.siret for d in decls] == [VALID, VALID_2]
    assert decls[0].url_dcat == "https://www.klekoon.com/dcat/1"
    assert "declaration_header_glued" in [f.code for f in findings]


def test_blank_rows_are_skipped():
    decls, _ = read(f"siretAcheteur;urlProfilAcheteur\n\n;;\n{VALID};https://a.fr\n".encode())
    assert [d.siret for d in decls] == [VALID]


def test_looks_like_declaration_csv():
    assert looks_like_declaration_csv(b"\xef\xbb\xbfsiretAcheteur;urlProfilAcheteur;urlDCAT;coordonnees\n1;2")
    assert looks_like_declaration_csv(b'"SIRET Acheteur";"url"\n')
    assert not looks_like_declaration_csv(b'"dataset.id";"dataset.title";"id";"url"\n')
    assert not looks_like_declaration_csv(b'{"siretAcheteur": 1}')
    assert not looks_like_declaration_csv(b"")


def test_real_etalab_aggregation(real_dir):
    path = real_dir / "declarations" / "etalab_decp-dpa_aggregation.csv"
    with open(path, encoding="utf-8", newline="") as fh:
        expected_rows = list(csv.reader(fh, delimiter=";"))[1:]
    items = list(read_declarations(path))
    decls = [i for i in items if isinstance(i, Declaration)]
    findings = [i for i in items if isinstance(i, Finding)]
    assert len(decls) == len(expected_rows) == 19
    assert [d.siret_raw for d in decls] == [r[0] for r in expected_rows]
    assert [f.code for f in findings] == ["declaration_siret_mangled"]
    assert sum(d.siret is None for d in decls) == 1
    assert all(d.url_profil_acheteur == d.url_profil_acheteur.strip() for d in decls)
    assert sum("\n" in (d.coordonnees or "") for d in decls) == 3


def test_real_non_declaration_csv_is_recognised(real_dir):
    head = (real_dir / "declarations" / "atexo-decp-scraper_plateformes.csv").read_bytes()[:4096]
    assert not looks_like_declaration_csv(head)
    assert looks_like_declaration_csv((real_dir / "declarations" / "schema-decp-dpa_exemple-valide.csv").read_bytes())
