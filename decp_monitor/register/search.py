"""Search by name the way people type names: accents, case, apostrophes (’ or '), abbreviations.

Both sides are normalised the same way: lower case, accents stripped, every other character a
space, and the long forms of common public-body names replaced by their abbreviation (« centre
communal d'action sociale » -> « ccas », « centre hospitalier universitaire » -> « chu »,
« saint » -> « st »). The buyer's side is computed in SQL (the macro below, generated from the
same table), the query's in Python; tests check they agree. A query matches when each of its
words starts a word of the buyer's text (abbreviations and one- or two-letter words must match
a whole word).
"""
from __future__ import annotations

import re
import unicodedata

# Long form (already normalised) -> abbreviation. Longer forms first: they are applied in order.
ABBREVIATIONS: tuple[tuple[str, str], ...] = (
    ("centre hospitalier regional universitaire", "chru chu"),
    ("centre hospitalier universitaire", "chu"),
    ("centre hospitalier regional", "chr"),
    ("centre hospitalier", "ch"),
    ("centre communal d action sociale", "ccas"),
    ("centre intercommunal d action sociale", "cias"),
    ("service departemental d incendie et de secours", "sdis"),
    ("etablissement d hebergement pour personnes agees dependantes", "ehpad"),
    ("office public de l habitat", "oph"),
    ("syndicat intercommunal a vocation unique", "sivu"),
    ("syndicat intercommunal a vocation multiple", "sivom"),
    ("communaute d agglomeration", "ca"),
    ("communaute de communes", "cc"),
    ("communaute urbaine", "cu"),
    ("direction departementale des territoires et de la mer", "ddtm"),
    ("direction departementale des territoires", "ddt"),
    ("etablissement public de cooperation intercommunale", "epci"),
    ("etablissement public local d enseignement", "eple"),
    ("sainte", "ste"),
    ("saint", "st"),
)
ABBREVIATION_WORDS = frozenset(w for _, short in ABBREVIATIONS for w in short.split())
STOPWORDS = frozenset({"de", "d", "du", "des", "la", "le", "les", "l", "et", "en", "a", "au", "aux"})
MAX_QUERY_WORDS = 8


def normalise(text: str) -> str:
    """' word word … ' (padded with spaces), as the SQL macro computes it."""
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = " " + " ".join(re.sub(r"[^a-z0-9]+", " ", text).split()) + " "
    for long, short in ABBREVIATIONS:
        text = text.replace(f" {long} ", f" {short} ")
    return text


def query_patterns(text: str) -> list[str]:
    """The substrings a buyer's search text must contain, one per significant word of the query."""
    words = [w for w in normalise(text).split() if w not in STOPWORDS][:MAX_QUERY_WORDS]
    return [f" {w} " if w in ABBREVIATION_WORDS or len(w) <= 2 else f" {w}" for w in words]


def sql_macro() -> str:
    """CREATE MACRO search_text(s): the SQL twin of normalise() (constant text from this module)."""
    expression = ("' ' || trim(regexp_replace(strip_accents(lower(coalesce(s, ''))), '[^a-z0-9]+', ' ', 'g')) || ' '")
    for long, short in ABBREVIATIONS:
        expression = f"replace({expression}, ' {long} ', ' {short} ')"
    return f"CREATE OR REPLACE TEMP MACRO search_text(s) AS {expression}"
