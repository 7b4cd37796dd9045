"""The table schema of the buyer-profile declaration CSV, as a Frictionless descriptor.

The official descriptor (etalab/schema-decp-dpa, version 1.0.0) comes without a licence, so it
is not shipped: this module states the same four columns and constraints (documented in the
data.gouv.fr guide « Comment remplir les obligations légales des profils d'acheteur ? »).
tests/check/test_check_real.py compares it field by field with the official file.
"""
from __future__ import annotations

VERSION = "1.0.0"

DESCRIPTOR: dict = {
    "fields": [
        {"name": "siretAcheteur", "type": "string",
         "constraints": {"pattern": "^\\d{14}$", "required": True, "unique": True}},
        {"name": "urlProfilAcheteur", "type": "string", "format": "uri", "constraints": {"required": True}},
        {"name": "urlDCAT", "type": "string", "format": "uri", "constraints": {"required": False}},
        {"name": "coordonnees", "type": "string", "constraints": {"required": True}},
    ],
    "missingValues": [""],
}
