"""Hand-built databases for the compliance engine, made with the real store and model objects."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Optional

import pytest

from decp_monitor.core.model import Declaration, Modification, Record
from decp_monitor.pipeline import build_version
from decp_monitor.store.versions import Store

BUYER = "21440036800012"  # Ville de Châteaubriant: a valid SIRET
OTHER = "21690123100011"  # Ville de Lyon
THIRD = "21974015600019"
AS_OF = "2025-06-30"


def d(text: Optional[str]) -> Optional[dt.date]:
    return dt.date.fromisoformat(text) if text else None


def marche(contract_id, notified, published, buyer=BUYER, source="marches.json", position=0, **extra) -> Record:
    return Record(source, position, "marche", "json-2019", buyer_siret=buyer, contract_id=contract_id,
                  notification_date=d(notified), publication_date=d(published), **extra)


def concession(contract_id, signed, published, start=None, buyer=BUYER, source="concessions.json", **extra) -> Record:
    return Record(source, 0, "concession", "json-2019", buyer_siret=buyer, contract_id=contract_id,
                  notification_date=d(signed), start_date=d(start), publication_date=d(published), **extra)


def modification(position, notified, published, modification_id=None) -> Modification:
    return Modification(position, modification_id or str(position + 1), d(notified), d(published))


def declaration(siret, url="https://profil.example/acheteur", line=2) -> Declaration:
    return Declaration("declarations.csv", line, siret if siret and siret.isdigit() else None, siret or "", url)


class Built:
    """A published test database: `rows(sql)` as dicts, `one(table, **where)`."""

    def __init__(self, store: Store):
        self.store = store

    def con(self):
        return self.store.connect()

    def rows(self, sql: str, params: Iterable = ()) -> list[dict]:
        con = self.store.connect()
        try:
            cur = con.execute(sql, list(params))
            names = [c[0] for c in cur.description]
            return [dict(zip(names, row)) for row in cur.fetchall()]
        finally:
            con.close()

    def contract(self, contract_id: str, buyer: str = BUYER) -> dict:
        found = self.rows("SELECT * FROM contract_compliance WHERE contract_id = ? AND buyer_siret = ?",
                          [contract_id, buyer])
        assert len(found) == 1, found
        return found[0]

    def buyer(self, siret: str = BUYER) -> dict:
        found = self.rows("SELECT * FROM buyer_compliance WHERE buyer_siret = ?", [siret])
        assert len(found) == 1, found
        return found[0]


@pytest.fixture
def build(tmp_path):
    """build(records=[...], declarations=[...], datasets=[...], resources=[...], as_of=...) -> Built."""
    store = Store(tmp_path / "data")

    def _build(records=(), declarations=(), datasets=(), resources=(), as_of=AS_OF, carry_over=False,
               files=()) -> Built:
        meta = {"as_of": as_of} if as_of else {}
        with build_version(store, "test", carry_over=carry_over, meta=meta) as b:
            for item in list(records) + list(declarations):
                b.add(item)
            if datasets:
                b.add_datasets(list(datasets))
            if resources:
                b.add_resources(list(resources))
            for path in files:
                b.load_file(path)
        return Built(store)

    _build.store = store
    return _build
