"""Places: commune code -> département -> région, and the département outlines for the map.

The département follows from the commune code by rule (two characters, 2A/2B included; three for
overseas codes 97x/98x), except for a handful of communes associées attached to a neighbouring
département, listed in data/reference.json. Arrondissement codes of Paris (751xx), Lyon (6938x)
and Marseille (132xx) fall out of the rule by themselves. Reference data: data/LICENCES.md.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Optional

DATA_DIR = Path(__file__).resolve().parent / "data"
# The three cities whose register codes are arrondissements; their commune code.
ARRONDISSEMENT_CITIES = (("751", "75056"), ("6938", "69123"), ("132", "13055"))


@functools.cache
def reference() -> dict:
    return json.loads((DATA_DIR / "reference.json").read_text(encoding="utf-8"))


@functools.cache
def geojson() -> dict:
    """Outlines of the metropolitan départements (feature id = département code)."""
    return json.loads((DATA_DIR / "departements.geojson").read_text(encoding="utf-8"))


def clean_commune_code(raw: object) -> Optional[str]:
    """A 5-character INSEE commune code (digits, or 2A/2B + 3 digits), else None."""
    if raw is None:
        return None
    text = str(raw).strip().upper()
    if len(text) == 4 and text.isdigit():  # a leading zero lost in a spreadsheet (6088 for 06088)
        text = "0" + text
    if len(text) != 5 or not text[2:].isdigit():
        return None
    if not (text[:2].isdigit() or text[:2] in ("2A", "2B")):
        return None
    return text


def city_of_arrondissement(commune_code: Optional[str]) -> Optional[str]:
    """75056 for 75104, 69123 for 69381, 13055 for 13202; the code itself otherwise."""
    if commune_code is None:
        return None
    for prefix, city in ARRONDISSEMENT_CITIES:
        if commune_code.startswith(prefix) and commune_code != city:
            suffix = commune_code[len(prefix):]
            if prefix == "132" and not "01" <= suffix <= "16":
                continue  # 132xx outside 13201–13216 are ordinary communes of the Bouches-du-Rhône
            return city
    return commune_code


def department_of_commune(raw: object) -> Optional[str]:
    code = clean_commune_code(raw)
    if code is None:
        return None
    exception = reference()["commune_exceptions"].get(code)
    if exception:
        return exception
    department = code[:3] if code[:2] in ("97", "98") else code[:2]
    return department if department in reference()["departements"] else None


def department_of_postcode(raw: object) -> Optional[str]:
    """A weaker clue (declarations give a postcode, not a commune code): 20xxx is Corsica, split at 20200."""
    text = str(raw or "").strip()
    if len(text) != 5 or not text.isdigit():
        return None
    if text.startswith("20"):
        return "2A" if text < "20200" else "2B"
    department = text[:3] if text[:2] == "97" else text[:2]
    return department if department in reference()["departements"] else None


def region_of_department(department: Optional[str]) -> Optional[str]:
    entry = reference()["departements"].get(department or "")
    return entry["region"] if entry else None


def department_name(department: Optional[str]) -> Optional[str]:
    entry = reference()["departements"].get(department or "")
    return entry["nom"] if entry else None


def region_name(region: Optional[str]) -> Optional[str]:
    return reference()["regions"].get(region or "")


def departments() -> dict[str, str]:
    """Code -> name, in code order."""
    return {code: entry["nom"] for code, entry in sorted(reference()["departements"].items())}


def regions() -> dict[str, str]:
    return dict(sorted(reference()["regions"].items(), key=lambda item: item[1]))
