"""Schema validation of one file against the official version it claims or resembles.

JSON: jsonschema (the reference) on each record against the record sub-schema, streamed with
ijson; a compiled fastjsonschema check first tells valid records from invalid ones, so that the
slow, detailed validation only runs on invalid records, and only on the first DETAIL_CAP of
them (the others are counted). XML: the same with libxml2 (lxml, the loader's parser) as the
fast check and xmlschema for the detailed errors, each record element validated as it is
parsed (line numbers kept) then freed. CSV declarations: frictionless against the declaration
table schema. Memory stays bounded by the largest record, and an XML record beyond
CHECK_MAX_ELEMENTS is reported, pruned as it is read and not checked (time and memory bounded for
a hostile upload); the parsers are configured as the loader's (no entity expansion, no network,
no DTD, depth limit).
"""
from __future__ import annotations

import copy
import functools
import hashlib
import itertools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import fastjsonschema
import ijson
import jsonschema
import xmlschema
from lxml import etree

from decp_monitor.check.explain import json_error, json_path, table_error, xml_error
from decp_monitor.check.fixes import FINDING_FIXES
from decp_monitor.check.issues import IssueCollector, Location
from decp_monitor.parse.json_reader import TooDeep, _RawReader, _SanitisingReader, _Source
from decp_monitor.parse.xml_reader import FIELDS_2024, PROLOG_SCAN, _events, _prune, _refuse_entities

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
DETAIL_CAP = 1000  # invalid records validated in detail per file; the next ones are only counted
# An XML contract is checked against the schema up to this many elements (real ones hold a few
# hundred): xmlschema's detailed errors cost, each, time in the contract's elements (100 errors:
# 0.2 s at 5 000 elements, 45 s at 100 000), and lxml holds ~130 bytes an element. A bigger contract
# is reported, pruned as it is read (memory flat) and not checked (a 8 MB file holding one contract
# of 2 million empty elements ran for more than 11 minutes at 890 MB).
CHECK_MAX_ELEMENTS = 5_000
# Detailed errors given per contract, the first ones (the contract counts as invalid anyway).
MAX_ERRORS_PER_RECORD = 50
# A JSON contract gets the detail of its errors up to CHECK_MAX_ELEMENTS values and lists of this
# many items: jsonschema compares every two items of a list for uniqueItems (2 000 holders: 16 s; a
# 129 KB file of one contract with 10 000 of them ran 95 s).
MAX_DETAILED_LIST_ITEMS = 200
SMALL_ROOT_BYTES = 10 * 1024 * 1024  # a root without "marches" is validated whole up to this size
BOM = b"\xef\xbb\xbf"

JSON_SCHEMAS = {
    "1.5.0": "fcp-v1.5.0_marches.json",
    "2.0.1": "schema_decp_v2.0.1.json",
    "2.0.2": "schema_decp_v2.0.2.json",
    "2.0.3": "schema_decp_v2.0.3.json",
}
XML_SCHEMAS = {
    "1.5.0": "fcp-v1.5.0_marches.xsd",
    "1.5.0 DGFiP": "fcp-v1.5.0_marches-dgfip.xsd",
    "2.0.2": "schema_decp_v2.0.2.xsd",
}
CURRENT_2024 = "2.0.3"
DGFIP_FIELDS = frozenset({"dateTransmissionDonneesEtalab", "urlProfilAcheteur"})
Progress = Callable[[int, int], None]


@dataclass
class SchemaChoice:
    version: str
    file: str
    reason: str  # French: why this version

    @property
    def label(self) -> str:
        return f"{self.version} ({self.file})"


@dataclass
class Validation:
    """What schema validation says about one file."""

    file: str
    kind: str  # json | xml | csv
    schema: Optional[SchemaChoice] = None
    records: int = 0
    invalid_records: int = 0
    errors: int = 0  # errors counted (detailed records and file-level)
    detailed_records: int = 0
    capped: bool = False  # DETAIL_CAP reached: later invalid records only counted
    unreadable: Optional[str] = None  # French: why validation could not run
    notes: list[str] = field(default_factory=list)
    # (list path, 0-based index in that list; XML: tag, index among the records of that tag), capped
    invalid_positions: list[tuple[str, int]] = field(default_factory=list)
    issues: IssueCollector = field(default_factory=IssueCollector)  # this file's schema errors

    def to_dict(self) -> dict:
        return {
            "fichier": self.file, "type": self.kind,
            "schema": self.schema.version if self.schema else None,
            "fichier_schema": self.schema.file if self.schema else None,
            "raison_du_choix": self.schema.reason if self.schema else None,
            "enregistrements": self.records, "enregistrements_non_conformes": self.invalid_records,
            "erreurs": self.errors, "enregistrements_detailles": self.detailed_records,
            "detail_plafonne": self.capped, "illisible": self.unreadable, "notes": self.notes,
        }


# -- schema loading (once per process) ----------------------------------------------------------


@functools.cache
def json_schema(version: str) -> dict:
    return json.loads((SCHEMA_DIR / JSON_SCHEMAS[version]).read_text(encoding="utf-8"))


@functools.cache
def _json_validators(version: str):
    """(root validator, {record kind: (fast check, detailed validator)}) for one version."""
    schema = json_schema(version)
    cls = jsonschema.validators.validator_for(schema)
    root = cls(schema)
    units = {}
    for kind, sub in record_subschemas(version).items():
        fast = fastjsonschema.compile(_standalone(schema, sub), use_default=False, use_formats=False,
                                      detailed_exceptions=False)  # yes or no: the detail is jsonschema's
        detailed = {"": root.evolve(schema=_standalone(schema, sub))}
        # 2019 records may be marchés or concessions (anyOf): an anyOf error only says "neither";
        # the detail comes from the branch the record claims (_type) or resembles.
        for branch in sub.get("anyOf", []):
            ref = branch.get("$ref", "")
            detailed[ref.rsplit("/", 1)[-1]] = root.evolve(schema=_standalone(schema, branch))
        units[kind] = (fast, detailed)
    return root, units


def _branch(record, detailed: dict):
    if len(detailed) == 1 or not isinstance(record, dict):
        return detailed[""]
    kind = str(record.get("_type") or "").lower()
    concession = "concession" in kind or (not kind and "autoriteConcedante" in record and "acheteur" not in record)
    return detailed.get("contrat-concession" if concession else "marche", detailed[""])


def record_subschemas(version: str) -> dict[str, dict]:
    """The schema a record of each list must satisfy, as the full schema states it."""
    schema = json_schema(version)
    marches = schema["properties"]["marches"]
    if marches.get("type") == "array":
        return {"item": marches["items"]}
    return {name: prop["items"] for name, prop in marches["properties"].items()}


def _standalone(schema: dict, sub: dict) -> dict:
    """A record sub-schema that still resolves its `#/definitions/…` references."""
    out = dict(sub)
    out["definitions"] = schema.get("definitions", {})
    if "$schema" in schema:
        out["$schema"] = schema["$schema"]
    return out


@functools.cache
def xml_schemas(version: str):
    """(xmlschema schema for the detail, lxml schema for the fast check) of one XSD."""
    path = SCHEMA_DIR / XML_SCHEMAS[version]
    head = path.read_bytes()[:400]
    # The 1.5.0 XSDs declare vc:minVersion="1.1": read as XSD 1.0, xmlschema would skip them whole.
    cls = xmlschema.XMLSchema11 if b'vc:minVersion="1.1"' in head else xmlschema.XMLSchema10
    return cls(str(path)), etree.XMLSchema(etree.parse(str(path)))


# -- JSON ---------------------------------------------------------------------------------------


def _claimed_json_version(value: Any) -> Optional[str]:
    if not isinstance(value, str):
        return None
    for version in ("2.0.3", "2.0.2", "2.0.1"):
        if version in value:
            return version
    if re.search(r"1\.[0-5]\.\d|paquet\.json|/schemas/json/", value):
        return "1.5.0"
    return None


def _head_structure(opener, skip: int) -> dict:
    """Root shape from the first events only: root type, top-level keys seen before the
    records, the `marches` value type and the first record list key."""
    info: dict = {"root": None, "keys": {}, "marches": None, "lists": []}
    with opener() as handle:
        events = ijson.parse(_RawReader(handle, skip), use_float=True)
        try:
            _, event, _ = next(events)
            info["root"] = {"start_map": "object", "start_array": "array"}.get(event, "scalar")
            if event != "start_map":
                return info
            key = None
            for prefix, event, value in events:
                if prefix == "" and event == "map_key":
                    key = value
                    continue
                if prefix == "" and event == "end_map":
                    break
                if key == "marches" and prefix == "marches":
                    if event == "start_array":
                        info["marches"] = "array"
                        break
                    if event == "start_map":
                        info["marches"] = "object"
                        continue
                    if event == "map_key":
                        info["lists"].append(value)
                        break
                    if event == "end_map":
                        break
                    info["marches"] = "scalar"
                    break
                if prefix == key and key != "marches":
                    if event in ("string", "number", "boolean", "null"):
                        info["keys"][key] = value
                    elif event in ("start_map", "start_array"):
                        info["keys"][key] = {} if event == "start_map" else []
        except (ijson.JSONError, ijson.IncompleteJSONError, TooDeep, UnicodeDecodeError):
            pass
    return info


def choose_json_schema(info: dict, first_record: Optional[dict]) -> SchemaChoice:
    claimed = _claimed_json_version(info["keys"].get("$schema"))
    shape_2024 = info["marches"] == "object"
    if claimed and (claimed.startswith("2.") == shape_2024):
        declared = info["keys"]["$schema"]
        if claimed in declared:
            return SchemaChoice(claimed, JSON_SCHEMAS[claimed], f"le fichier déclare ce schéma ($schema = {declared})")
        return SchemaChoice(claimed, JSON_SCHEMAS[claimed],
                            f"le fichier déclare un schéma du format 2019 ($schema = {declared}) : "
                            f"validé contre sa dernière version, {claimed}")
    note = ""
    if claimed:
        note = f" ; le fichier déclare {claimed} ($schema), mais n'en a pas la structure"
    if not shape_2024:
        return SchemaChoice("1.5.0", JSON_SCHEMAS["1.5.0"],
                            "structure du format 2019 ({\"marches\": [ … ]})" + note)
    if first_record is not None and "_type" in first_record:
        return SchemaChoice("2.0.2", JSON_SCHEMAS["2.0.2"],
                            "structure du format 2024 avec le champ _type, retiré du schéma en vigueur 2.0.3" + note)
    return SchemaChoice(CURRENT_2024, JSON_SCHEMAS[CURRENT_2024],
                        "structure du format 2024 ({\"marches\": {\"marche\": [ … ]}}), schéma en vigueur" + note)


def validate_json(path: Path, name: str, progress: Optional[Progress] = None,
                  detail_cap: int = DETAIL_CAP) -> Validation:
    result = Validation(name, "json")
    issues = result.issues
    source = _Source(path)  # the loader's: opens the same content again for each pass
    opener = source.open
    total = path.stat().st_size
    with opener() as fh:
        head = fh.read(4)
    skip = len(BOM) if head.startswith(BOM) else 0
    info = _head_structure(opener, skip)
    if info["root"] is None:
        result.unreadable = "JSON illisible dès le début du fichier : validation impossible"
        return result
    first = _first_record(opener, skip, info)
    result.schema = choice = choose_json_schema(info, first)
    root, units = _json_validators(choice.version)
    version = choice.version

    def add(error, prefix: list, record: Optional[int], contract_id: Optional[str]) -> None:
        key, fld, title, explanation, fix, value = json_error(error, version)
        # fld is relative to the record (and names a missing or extra field): put the record's path first.
        full = (json_path(prefix) + ("" if fld == "(racine)" else "." + fld)) if prefix else fld
        issues.add("schema", f"schema:{key}", "error", title, explanation, fix,
                   Location(name, record=record, contract_id=contract_id, field=full or fld, value=value))
        result.errors += 1

    # The root: type, `marches` and its lists, with the record lists left empty (they are
    # validated record by record below).
    if info["root"] != "object" or info["marches"] is None:
        if info["root"] == "object" and total <= SMALL_ROOT_BYTES:
            document = _load_whole(opener, skip)
            if document is not None:
                for error in root.iter_errors(document):
                    add(error, [], None, None)
                return result
        issues.add("schema", "schema:root", "error", "Structure racine non conforme",
                   "Le schéma attend un objet racine {\"marches\": …} contenant les contrats.",
                   "Envelopper les contrats dans {\"marches\": [ … ]} (format 2019) ou "
                   "{\"marches\": {\"marche\": [ … ]}} (format 2024).", Location(name))
        result.errors += 1
        return result

    sanitise = False
    encoding = "utf-8"
    counts: dict[str, int] = {}
    seen_hashes: dict[bytes, int] = {}
    unique_lists = _unique_lists(version)
    readers: list = []  # the reader of each pass, to tell an undecodable byte from a syntax error
    while True:
        try:
            _validate_records(opener, skip, sanitise, encoding, info, units, result, add, counts,
                              seen_hashes, unique_lists, name, issues, total, progress, detail_cap, readers)
            break
        except TooDeep as exc:
            result.unreadable = f"JSON refusé : imbrication trop profonde (vers l'octet {exc.args[0]})"
            return result
        except (ijson.JSONError, ijson.IncompleteJSONError, UnicodeDecodeError) as exc:
            # As the loader does (json_reader.read_json): NaN/Infinity read as null, then latin-1 when
            # the sanitising pass meets a byte UTF-8 does not allow; each pass resumes after the records
            # read in full before it. A file with bare NaN is read once more, not twice (its whole
            # encoding is no longer checked first).
            reader = readers[-1] if readers else None
            if sanitise and encoding == "utf-8" and isinstance(reader, _SanitisingReader) and reader.undecodable:
                encoding = "latin-1"
                result.notes.insert(len(result.notes) - 1, "Fichier non UTF-8 : validé après relecture en latin-1")
                continue
            if sanitise:
                result.unreadable = f"JSON illisible : {str(exc).strip()[:200]} ; validation arrêtée"
                return result
            sanitise = True
            result.notes.append("JSON non standard (NaN, Infinity ou encodage) : validé après la même "
                                "correction que le chargement (valeurs lues comme null)")
    shell = _shell(info, counts)
    for error in root.iter_errors(shell):
        error_path = list(error.absolute_path)
        if error.validator in ("minItems",) and error_path[:1] == ["marches"]:
            actual = counts.get(".".join(str(p) for p in error_path[1:]) or "item", 0)
            if actual >= error.validator_value:
                continue
        add(error, [], None, None)
    return result


def _first_record(opener, skip: int, info: dict) -> Optional[dict]:
    prefixes = _record_prefixes(info)
    if not prefixes:
        return None
    try:
        with opener() as handle:
            for item in ijson.items(_RawReader(handle, skip), prefixes[0][0], use_float=True):
                return item if isinstance(item, dict) else None
    except (ijson.JSONError, ijson.IncompleteJSONError, TooDeep, UnicodeDecodeError):
        return None
    return None


def _too_large_for_detail(record) -> bool:
    """More than CHECK_MAX_ELEMENTS values, or a list of more than MAX_DETAILED_LIST_ITEMS items."""
    stack, values = [record], 0
    while stack:
        value = stack.pop()
        values += 1
        if values > CHECK_MAX_ELEMENTS:
            return True
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            if len(value) > MAX_DETAILED_LIST_ITEMS:
                return True
            stack.extend(value)
    return False


def _record_prefixes(info: dict) -> list[tuple[str, str]]:
    """(ijson prefix, list key) of each record list."""
    if info["marches"] == "array":
        return [("marches.item", "item")]
    if info["marches"] == "object":
        names = list(dict.fromkeys(info["lists"] + ["marche", "contrat-concession"]))
        return [(f"marches.{n}.item", n) for n in names if n in ("marche", "contrat-concession")]
    return []


def _unique_lists(version: str) -> set[str]:
    marches = json_schema(version)["properties"]["marches"]
    if marches.get("type") == "array":
        return {"item"} if marches.get("uniqueItems") else set()
    return {n for n, p in marches.get("properties", {}).items() if p.get("uniqueItems")}


def _load_whole(opener, skip: int):
    with opener() as handle:
        handle.read(skip)
        try:
            return json.loads(handle.read(SMALL_ROOT_BYTES + 1))
        except (ValueError, RecursionError):  # RecursionError: absurd nesting, reported as a bad root
            return None


def _shell(info: dict, counts: dict[str, int]) -> dict:
    shell = {k: copy.deepcopy(v) for k, v in info["keys"].items()}
    if info["marches"] == "array":
        shell["marches"] = []
    else:
        lists: dict[str, list] = {n: [] for n in info["lists"] if n in ("marche", "contrat-concession")}
        lists.update({n: [] for n in counts if n != "item"})
        shell["marches"] = lists
    return shell


def _validate_records(opener, skip, sanitise, encoding, info, units, result: Validation, add, counts,
                      seen_hashes, unique_lists, name, issues, total, progress, detail_cap, readers: list) -> None:
    done = 0
    for prefix, list_key in _record_prefixes(info):
        fast, detailed = units.get(list_key, units.get("item"))
        list_path = ["marches"] if list_key == "item" else ["marches", list_key]
        with opener() as handle:
            reader = _SanitisingReader(handle, skip, encoding) if sanitise else _RawReader(handle, skip)
            readers.append(reader)
            already = counts.get(list_key, 0)  # read before a restart with the sanitising reader
            for index, record in enumerate(ijson.items(reader, prefix, use_float=True)):
                if index < already:
                    continue
                counts[list_key] = index + 1
                result.records += 1
                done += 1
                contract_id = _text(record.get("id")) if isinstance(record, dict) else None
                if list_key in unique_lists:
                    _check_unique(record, index, seen_hashes, list_path, name, issues, result, contract_id)
                try:
                    fast(record)
                    valid = True
                except fastjsonschema.JsonSchemaException:
                    valid = False
                if not valid:
                    result.invalid_records += 1
                    if len(result.invalid_positions) < 100_000:
                        result.invalid_positions.append((".".join(list_path), index))
                    if _too_large_for_detail(record):
                        issues.add("schema", "schema:record-too-large", "error", "Contrat trop volumineux",
                                   f"Ce contrat compte plus de {CHECK_MAX_ELEMENTS} valeurs ou une liste de plus de "
                                   f"{MAX_DETAILED_LIST_ITEMS} éléments (un contrat réel en compte quelques "
                                   "centaines) : il est compté non conforme, sans le détail de ses erreurs.",
                                   FINDING_FIXES["record_too_large"],
                                   Location(name, record=result.records, contract_id=contract_id))
                        result.errors += 1
                    elif result.detailed_records < detail_cap:
                        result.detailed_records += 1
                        errors = _branch(record, detailed).iter_errors(record)
                        for error in itertools.islice(errors, MAX_ERRORS_PER_RECORD):
                            add(error, list_path + [index], result.records, contract_id)
                    else:
                        result.capped = True
                if progress and done % 2000 == 0:
                    progress(min(reader.offset, total), total)
    if result.capped:
        extra = result.invalid_records - result.detailed_records
        issues.add("schema", "schema:undetailed", "error",
                   "Enregistrements non conformes non détaillés",
                   f"Le détail des erreurs s'arrête aux {detail_cap} premiers enregistrements non conformes "
                   "du fichier ; les suivants sont seulement comptés.",
                   "Corriger les erreurs détaillées (souvent les mêmes partout), puis vérifier à nouveau.",
                   Location(name), count=extra)


def _check_unique(record, index, seen_hashes, list_path, name, issues, result, contract_id) -> None:
    digest = hashlib.blake2b(json.dumps(record, sort_keys=True, ensure_ascii=False, default=str).encode(),
                             digest_size=16).digest()
    first = seen_hashes.setdefault(digest, index)
    if first != index:
        issues.add("schema", "schema:uniqueItems:marches", "error", "Enregistrements en double",
                   "Le schéma interdit deux enregistrements identiques dans la liste des contrats "
                   "(uniqueItems) : un contrat republié à l'identique.",
                   "Ne publier chaque contrat qu'une fois par fichier.",
                   Location(name, record=result.records, contract_id=contract_id,
                            field=json_path(list_path + [index]),
                            value=f"identique à l'enregistrement {first + 1}"))
        result.errors += 1


def _text(value) -> Optional[str]:
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)[:100]


# -- XML ----------------------------------------------------------------------------------------

_RECORD_TAGS = ("marche", "contrat-concession")


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def choose_xml_schema(root_attrs: dict, first_fields: set[str]) -> SchemaChoice:
    location = " ".join(v for k, v in root_attrs.items() if _local(k) in ("noNamespaceSchemaLocation", "schemaLocation"))
    if FIELDS_2024 & first_fields:
        return SchemaChoice("2.0.2", XML_SCHEMAS["2.0.2"], "éléments propres au format 2024 (schéma XSD en vigueur)")
    if DGFIP_FIELDS & first_fields:
        return SchemaChoice("1.5.0 DGFiP", XML_SCHEMAS["1.5.0 DGFiP"],
                            "format 2019, variante DGFiP/PES (urlProfilAcheteur, dateTransmissionDonneesEtalab)")
    if re.search(r"2\.0\.\d|decp_v2", location):
        return SchemaChoice("2.0.2", XML_SCHEMAS["2.0.2"], f"le fichier déclare un schéma 2.0 ({location[:120]})")
    return SchemaChoice("1.5.0", XML_SCHEMAS["1.5.0"], "structure du format 2019")


def _iterparse(handle, events=("end",), tag=None):
    return etree.iterparse(handle, events=events, tag=tag, resolve_entities=False, no_network=True,
                           load_dtd=False, huge_tree=False, remove_comments=True, remove_pis=True)


def _peek_xml(path: Path) -> tuple[str, dict, set[str]]:
    """(root tag, root attributes, element names of the first record, up to CHECK_MAX_ELEMENTS of them)."""
    root_tag, attrs, fields = "", {}, set()
    record, seen = None, 0
    with open(path, "rb") as handle:
        for event, elem in _iterparse(handle, events=("start", "end")):
            if event == "start" and not root_tag:
                root_tag, attrs = _local(elem.tag), dict(elem.attrib)
                if _local(elem.tag) not in _RECORD_TAGS:
                    continue
            if event == "start" and record is None and _local(elem.tag) in _RECORD_TAGS:
                record = elem
            if event == "start" and record is not None:
                seen += 1
                if seen > CHECK_MAX_ELEMENTS:  # enough to tell the schema; the rest is not held
                    break
            if event == "end" and elem is record:
                break
    if record is not None:
        fields = {_local(c.tag) for c in record.iter() if isinstance(c.tag, str)}
    return root_tag, attrs, fields


def _elements(record) -> int:
    """Elements under a record, itself included, counted by libxml2 (no Python object each)."""
    return int(record.xpath("count(descendant-or-self::*)"))


def validate_xml(path: Path, name: str, progress: Optional[Progress] = None,
                 detail_cap: int = DETAIL_CAP) -> Validation:
    result = Validation(name, "xml")
    issues = result.issues
    with open(path, "rb") as fh:
        head = fh.read(PROLOG_SCAN)
    reason = _refuse_entities(head)
    if reason:
        result.unreadable = reason
        return result
    try:
        root_tag, attrs, fields = _peek_xml(path)
    except etree.XMLSyntaxError as exc:
        result.unreadable = f"XML illisible ligne {exc.lineno} : {exc.msg}"
        return result
    result.schema = choice = choose_xml_schema(attrs, fields)
    detailed, fast = xml_schemas(choice.version)
    version = choice.version
    total = path.stat().st_size
    if root_tag not in ("marches",) + _RECORD_TAGS:
        issues.add("schema", "schema:xml-root", "error", f"Élément racine <{root_tag}> non prévu",
                   f"Le schéma {version} attend <marches>, <marche> ou <contrat-concession> comme racine.",
                   "Envelopper les contrats dans un élément <marches>.", Location(name, line=1, value=root_tag))
        result.errors += 1
        return result
    try:
        with open(path, "rb") as handle:
            root = None
            per_kind: dict[str, int] = {}
            # the outermost open record, measured between two reads (xml_reader._events), and
            # whether it passed CHECK_MAX_ELEMENTS (then pruned as it is read, and not checked)
            open_record, oversized, open_depth = None, False, 0
            for event, elem, _ in _events(handle, None, tags=("{*}marches",) + tuple("{*}" + t for t in _RECORD_TAGS)):
                if event == "read":
                    if open_record is not None and not oversized:
                        oversized = _elements(open_record) > CHECK_MAX_ELEMENTS
                    if oversized:
                        _prune(open_record)
                    continue
                assert elem is not None
                local = _local(elem.tag)
                if event == "start":
                    if root is None:
                        root = elem
                    if local in _RECORD_TAGS:
                        if open_depth == 0:
                            open_record, oversized = elem, False
                        open_depth += 1
                    continue
                if local not in _RECORD_TAGS:
                    continue
                open_depth -= 1
                parent = elem.getparent()
                is_record = parent is None or parent is root and _local(root.tag) == "marches"
                if not is_record:
                    continue
                result.records += 1
                kind_index = per_kind[local] = per_kind.get(local, -1) + 1
                contract_id = (elem.findtext("id") or "").strip()[:100] or None
                if oversized or _elements(elem) > CHECK_MAX_ELEMENTS:
                    result.invalid_records += 1
                    issues.add("schema", "schema:xml-record-too-large", "error", "Contrat trop volumineux",
                               f"Ce contrat compte plus de {CHECK_MAX_ELEMENTS} éléments XML (un contrat réel en "
                               "compte quelques centaines) : il n'est pas vérifié, et le chargement le refuserait "
                               "au-delà de sa propre limite.",
                               FINDING_FIXES["record_too_large"],
                               Location(name, record=result.records, contract_id=contract_id, line=elem.sourceline))
                    result.errors += 1
                elif not fast.validate(elem):
                    result.invalid_records += 1
                    if len(result.invalid_positions) < 100_000:
                        result.invalid_positions.append((local, kind_index))
                    if result.detailed_records < detail_cap:
                        result.detailed_records += 1
                        for error in itertools.islice(detailed.iter_errors(elem), MAX_ERRORS_PER_RECORD):
                            key, fld, title, explanation, fix, value = xml_error(error, version)
                            issues.add("schema", f"schema:{key}", "error", title, explanation, fix,
                                       Location(name, record=result.records, contract_id=contract_id,
                                                field=fld, line=error.sourceline, value=value))
                            result.errors += 1
                    else:
                        result.capped = True
                if parent is not None:
                    parent.remove(elem)  # keep the root's other children: they are checked below
                else:
                    elem.clear()
                if progress and result.records % 1000 == 0:
                    progress(min(handle.tell(), total), total)
            if root is not None and _local(root.tag) == "marches":
                for child in root:
                    if not isinstance(child.tag, str):
                        continue
                    issues.add("schema", f"schema:xml-unexpected:racine:{_local(child.tag)}", "error",
                               f"Élément <{_local(child.tag)}> inattendu dans <marches>",
                               f"Le schéma {version} n'attend que des <marche> et <contrat-concession> dans <marches>.",
                               "Retirer l'élément ou le placer dans le contrat auquel il appartient.",
                               Location(name, field=_local(child.tag), line=child.sourceline))
                    result.errors += 1
    except etree.XMLSyntaxError as exc:
        result.unreadable = f"XML illisible ligne {exc.lineno} après {result.records} contrat(s) : {exc.msg}"
    if result.capped:
        issues.add("schema", "schema:undetailed", "error", "Enregistrements non conformes non détaillés",
                   f"Le détail des erreurs s'arrête aux {detail_cap} premiers enregistrements non conformes "
                   "du fichier ; les suivants sont seulement comptés.",
                   "Corriger les erreurs détaillées (souvent les mêmes partout), puis vérifier à nouveau.",
                   Location(name), count=result.invalid_records - result.detailed_records)
    return result


# -- CSV (buyer-profile declarations) -------------------------------------------------------------

TABLE_ERROR_LIMIT = 5000


def validate_declaration_csv(path: Path, name: str) -> Validation:
    import frictionless

    from decp_monitor.check import declaration_schema

    result = Validation(name, "csv", SchemaChoice(
        f"déclaration de profil d'acheteur {declaration_schema.VERSION}", "schéma de table etalab/schema-decp-dpa",
        "CSV dont l'en-tête nomme siretAcheteur"))
    issues = result.issues
    resource = frictionless.Resource(path=path.name, basepath=str(path.parent), format="csv",
                                     schema=frictionless.Schema.from_descriptor(declaration_schema.DESCRIPTOR))
    report = resource.validate(limit_errors=TABLE_ERROR_LIMIT)
    task = report.tasks[0] if report.tasks else None
    errors = list(task.errors) if task else list(report.errors)
    for error in errors:
        key, fld, title, explanation, fix, value = table_error(error)
        row = getattr(error, "row_number", None)
        issues.add("schema", f"schema:{key}", "error", title, explanation, fix,
                   Location(name, record=row, field=fld or None, line=row, value=value))
        result.errors += 1
    if task is not None and task.stats:
        result.records = task.stats.get("rows") or 0
    result.invalid_records = len({getattr(e, "row_number", None) for e in errors if getattr(e, "row_number", None)})
    result.capped = bool(task and task.warnings)
    if result.capped:
        result.notes.append(f"Validation arrêtée après {TABLE_ERROR_LIMIT} erreurs")
    return result


def iter_schema_files() -> Iterator[Path]:
    yield from sorted(SCHEMA_DIR.glob("*.json"))
    yield from sorted(SCHEMA_DIR.glob("*.xsd"))
