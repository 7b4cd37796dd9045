"""The Contrats page's search (read.queries.contracts_search) over a tiny literal database: every
filter, alone and combined, against contracts picked by hand; the stored columns it reads."""
from __future__ import annotations

import datetime as dt
import io

import pandas as pd
import pytest

from decp_monitor.core.model import Record
from decp_monitor.pipeline import build_version
from decp_monitor.read import queries
from decp_monitor.read.export import export_listing
from decp_monitor.read.queries import ContractFilter
from decp_monitor.store.versions import Store
from tests.dashboard.conftest import luhn_siret

ANGERS = luhn_siret("2149000070001")
BREST = luhn_siret("2129000190001")
EIFFAGE = {"id": "38000791400019", "type_id": "SIRET", "name": "Eiffage Génie Civil"}
ELEC = {"id": "38007919400011", "type_id": "SIRET", "name": "Électricité de l'Ouest"}
COLAS = {"id": "38002375400019", "type_id": "SIRET", "name": "Colas"}

# contract id: (buyer, holders, cpv, amount, place code, notified, published after (days))
CONTRACTS = {
    "A1": (ANGERS, [EIFFAGE], "45233140", 80000.0, "49000", dt.date(2025, 2, 1), 20),
    "A2": (ANGERS, [EIFFAGE, ELEC], "45310000", 250000.0, "49", dt.date(2025, 3, 1), 100),  # late
    "A3": (ANGERS, [ELEC], "09310000", 60000.0, "2A004", dt.date(2025, 4, 1), 10),
    "A4": (ANGERS, [EIFFAGE], "45233140", 30000.0, "49100", dt.date(2024, 5, 1), 10),  # too small, too old
    "B1": (BREST, [EIFFAGE], "45233140", 90000.0, "29200", dt.date(2025, 2, 1), 20),
    "B2": (BREST, [COLAS], "45233140", 95000.0, "97411", dt.date(2025, 2, 1), None),  # no publication date
    "B3": (BREST, [], "71000000", 50000.0, "1", dt.date(2025, 2, 1), 20),
}
AS_OF = dt.date(2025, 9, 30)


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("contrats"))
    with build_version(store, "test", source="tests", meta={"as_of": AS_OF.isoformat()}) as build:
        for position, (cid, (buyer, holders, cpv, amount, place, notified, after)) in enumerate(CONTRACTS.items()):
            build.add(Record(
                source_file="decp.json", position=position, kind="marche", format="json-2019",
                buyer_siret=buyer, buyer_name="Ville d'Angers" if buyer == ANGERS else "Brest Métropole",
                contract_id=cid, objet=f"Marché {cid}", cpv=cpv, amount=amount, place_code=place,
                procedure="Appel d'offres ouvert" if cid != "A3" else "Procédure adaptée", nature="Marché",
                notification_date=notified,
                publication_date=notified + dt.timedelta(days=after) if after is not None else None,
                holders=holders,
            ))
    connection = store.connect()
    yield connection
    connection.close()


def ids(con, f: ContractFilter, order: str = "recent") -> list[str]:
    return queries.contracts_search(con, f, order=order).rows["contract_id"].tolist()


def test_each_filter_alone_keeps_the_contracts_it_names(con):
    assert sorted(ids(con, ContractFilter(buyer="angers"))) == ["A1", "A2", "A3", "A4"]
    assert sorted(ids(con, ContractFilter(buyer="BREST METROPOLE"))) == ["B1", "B2", "B3"]  # case, accents
    assert sorted(ids(con, ContractFilter(buyer=BREST[:9]))) == ["B1", "B2", "B3"]  # SIREN
    # holders: part of a name, accents and case ignored, or a SIRET with spaces
    assert sorted(ids(con, ContractFilter(supplier="electricite"))) == ["A2", "A3"]
    assert sorted(ids(con, ContractFilter(supplier="ÉLECTRICITÉ DE L'OUEST"))) == ["A2", "A3"]
    assert sorted(ids(con, ContractFilter(supplier="380 079 194"))) == ["A2", "A3"]
    assert ids(con, ContractFilter(supplier="siret")) == []  # the JSON's keys and values are not searched
    assert sorted(ids(con, ContractFilter(cpv="4523"))) == ["A1", "A4", "B1", "B2"]
    assert sorted(ids(con, ContractFilter(amount_min=60000, amount_max=95000))) == ["A1", "A3", "B1", "B2"]
    assert sorted(ids(con, ContractFilter(departement="49"))) == ["A1", "A2", "A4"]
    assert ids(con, ContractFilter(departement="2a")) == ["A3"]
    assert ids(con, ContractFilter(departement="974")) == ["B2"]
    assert ids(con, ContractFilter(departement="01")) == ["B3"]
    assert ids(con, ContractFilter(procedure="Procédure adaptée")) == ["A3"]
    assert sorted(ids(con, ContractFilter(notified_from=dt.date(2025, 3, 1), notified_to=dt.date(2025, 4, 1)))) \
        == ["A2", "A3"]
    assert ids(con, ContractFilter(statuses=("late",))) == ["A2"]
    assert ids(con, ContractFilter(statuses=("no_publication_date",))) == ["B2"]


def test_combined_filter_is_the_intersection_and_pages_agree_with_the_full_download(con):
    combined = ContractFilter(buyer="angers", supplier="eiffage", cpv="45", amount_min=40000, amount_max=300000,
                              departement="49", notified_from=dt.date(2025, 1, 1), notified_to=dt.date(2025, 12, 31),
                              statuses=("on_time", "late"))
    assert ids(con, combined, order="amount") == ["A2", "A1"]
    first = queries.contracts_search(con, combined, order="amount", limit=1)
    second = queries.contracts_search(con, combined, order="amount", limit=1, offset=1)
    assert (first.total, second.total) == (2, 2)
    assert first.rows["contract_id"].tolist() == ["A2"] and second.rows["contract_id"].tolist() == ["A1"]
    row = first.rows.iloc[0]
    assert row["holder_names"] == "Eiffage Génie Civil (38000791400019) ; Électricité de l'Ouest (38007919400011)"
    assert (row["departement"], row["cpv"], row["status"]) == ("49", "45310000", "late")
    buffer = io.BytesIO()
    written = export_listing(con, first.listing, ["contract_id", "holder_names", "departement"], "csv", buffer)
    back = pd.read_csv(io.BytesIO(buffer.getvalue()), dtype=str)
    assert written == 2 and back["contract_id"].tolist() == ["A2", "A1"]
    assert back["departement"].tolist() == ["49", "49"]


def test_facets_offer_the_stored_departements(con):
    facets = queries.contract_facets(con)
    assert set(facets["departement"]) == {"49", "2A", "29", "974", "01"}
    assert facets["procedure"] == ["Appel d'offres ouvert", "Procédure adaptée"]



def test_the_search_columns_stay_out_of_the_view_that_exports_and_the_console_read(con):
    view = [row[0] for row in con.execute("DESCRIBE contract_compliance").fetchall()]
    table = [row[0] for row in con.execute("DESCRIBE contract_compliance_rows").fetchall()]
    assert {"holders_search", "buyer_search"} <= set(table)
    assert "holders_search" not in view and "buyer_search" not in view and "holder_names" in view
    assert sorted(ids(con, ContractFilter(supplier="electricite"))) == ["A2", "A3"]  # the search reads the table
