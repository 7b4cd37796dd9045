-- The fast lane of the SQL path for DECP JSON (json_sql.py): DuckDB's typed reader
-- (read_json with explicit columns) over one record array, then normalisation over typed
-- columns. A record takes this lane only when its typed read is provably what the Python
-- normaliser (normalise.py) reads and its only findings, if any, are missing dates; every other
-- record is routed to the exact lane (json_sql.sql's stage, over the JSON of those records only).
--
-- Where the typed read is lossy, and how each case is routed to the exact lane:
-- - scalars are read as VARCHAR: a string and a number give the same text (DuckDB prints doubles
--   as Python does, integers digit for digit), but an object, a list or a boolean becomes text that
--   Python would not keep (`decp_plain` is false for those);
-- - absent and null are the same NULL: the lane never needs the difference (concessions, whose
--   field choice depends on key presence, always go to the exact lane; `{}` and
--   `{"titulaire": null}` inside a list, which the normaliser keeps and drops, both read as all-NULL
--   and are routed);
-- - keys are matched exactly: keys with stray spaces are found in the record's text by json_sql.py
--   (SPACED_KEY) and routed; repeated keys of a record or of an object make DuckDB reject the file
--   (then the exact lane reads it whole);
-- - a value of another JSON type than the column's (an object where a list is due…) makes DuckDB
--   reject the file, likewise.
-- Macros first (installed once per connection with json_sql.sql's), then the query after the stage marker.

-- A scalar read as VARCHAR that Python's _text() reads the same (not an object, a list, a boolean).
CREATE OR REPLACE TEMP MACRO decp_plain(v) AS v IS NULL OR NOT (
    starts_with(v, '{') OR starts_with(v, '[') OR v IN ('true', 'false', 'inf', '-inf', 'nan', '-nan'));
CREATE OR REPLACE TEMP MACRO decp_fast_text(v) AS nullif(decp_strip(v), '');
-- A date the normaliser reads without any finding (text computed beforehand).
CREATE OR REPLACE TEMP MACRO decp_fast_date_ok(t, today) AS
    decp_date_problem(t) IS NULL AND NOT decp_missing_date(t) AND TRY_CAST(left(t, 10) AS DATE) <= today;
-- An amount the normaliser reads without any finding: a plain decimal between 0 and 1e11.
CREATE OR REPLACE TEMP MACRO decp_fast_amount_ok(v) AS v IS NULL
    OR (regexp_full_match(v, '[0-9]{1,15}(\.[0-9]{1,20})?') AND TRY_CAST(v AS DOUBLE) <= 1e11);
-- A duration the normaliser reads as a whole number of months without any finding.
CREATE OR REPLACE TEMP MACRO decp_fast_duration_ok(v) AS v IS NULL OR regexp_full_match(v, '[0-9]{1,9}(\.0)?');
-- Holder fields are kept only when they need no stripping but of plain spaces, and hold no character
-- that json.dumps() and DuckDB's to_json escape differently (control characters, U+2028, U+2029). One regular
-- expression: decp_strip and CASE inside a lambda cost ten times more (lambdas evaluate every branch).
-- Plain spaces at either end are common ("BECHTLE DIRECT "): trim(v, ' ') removes them, as str.strip()
-- does when no other space character is left at an end (the regular expression checks that).
CREATE OR REPLACE TEMP MACRO decp_fast_holder_field_ok(v) AS decp_plain(v) AND trim(v, ' ') IS DISTINCT FROM ''
    AND NOT coalesce(regexp_matches(trim(v, ' '), '^[{PY_WHITESPACE}]|[{PY_WHITESPACE}]$|[\x00-\x1f\x7f\x{2028}\x{2029}]'), FALSE);
-- A holder the writer below gives as the normaliser does: not wrapped twice, not a
-- {"concessionnaire": …} wrapper, not all-null (which {} and {"titulaire": null} both read as).
CREATE OR REPLACE TEMP MACRO decp_fast_holder_ok(h) AS
    h.titulaire IS NULL AND h.concessionnaire IS NULL AND NOT h.sibling
    AND NOT (h.id IS NULL AND h.typeIdentifiant IS NULL AND h.denominationSociale IS NULL)
    AND decp_fast_holder_field_ok(h.id) AND decp_fast_holder_field_ok(h.typeIdentifiant)
    AND decp_fast_holder_field_ok(h.denominationSociale);

-- stage --
CREATE OR REPLACE TEMP TABLE decp_fast AS
WITH src AS (
    SELECT ord - 1 AS position, *
    FROM read_json($path, format = 'array', records = 'true', columns = {
        '_type': 'VARCHAR', 'id': 'VARCHAR', 'uid': 'VARCHAR', 'nature': 'VARCHAR', 'objet': 'VARCHAR',
        'procedure': 'VARCHAR', 'codeCPV': 'VARCHAR',
        'acheteur': 'STRUCT(id VARCHAR, nom VARCHAR)',
        'autoriteConcedante': 'VARCHAR', 'concessionnaires': 'VARCHAR',
        'dateNotification': 'VARCHAR', 'dateDebutExecution': 'VARCHAR', 'datePublicationDonnees': 'VARCHAR',
        'montant': 'VARCHAR', 'dureeMois': 'VARCHAR',
        'lieuExecution': 'STRUCT(code VARCHAR, typeCode VARCHAR, nom VARCHAR)',
        'titulaires': 'STRUCT(id VARCHAR, typeIdentifiant VARCHAR, denominationSociale VARCHAR, '
                      'titulaire STRUCT(id VARCHAR, typeIdentifiant VARCHAR, denominationSociale VARCHAR, '
                      'titulaire VARCHAR, concessionnaire VARCHAR), concessionnaire VARCHAR)[]',
        'modifications': 'STRUCT(id VARCHAR, objetModification VARCHAR, objet VARCHAR, '
                         'dateNotificationModification VARCHAR, dateSignatureModification VARCHAR, '
                         'datePublicationDonneesModification VARCHAR, montant VARCHAR, valeurGlobale VARCHAR, '
                         'dureeMois VARCHAR, modification VARCHAR)[]'})
         WITH ORDINALITY AS t(_type, id, uid, nature, objet, procedure, codeCPV, acheteur, autoriteConcedante,
                              concessionnaires, dateNotification, dateDebutExecution, datePublicationDonnees,
                              montant, dureeMois, lieuExecution, titulaires, modifications, ord)
), t1 AS (
    SELECT position, _type, uid, nature, objet, procedure, codeCPV, acheteur, autoriteConcedante, concessionnaires,
           montant, dureeMois, lieuExecution, modifications,
           -- {"titulaire": {…}} (the 2024 shape) unwrapped, as normalise._flatten() does when it is the
           -- only key of its object: a sibling seen here, or in the record's text (json_sql.py,
           -- WRAPPED_SIBLING: a null or unknown sibling is not a column), routes the record.
           list_transform(titulaires, lambda h: CASE WHEN h.titulaire IS NULL
               THEN {'id': h.id, 'typeIdentifiant': h.typeIdentifiant, 'denominationSociale': h.denominationSociale,
                     'titulaire': NULL::VARCHAR, 'concessionnaire': h.concessionnaire, 'sibling': FALSE}
               ELSE {'id': h.titulaire.id, 'typeIdentifiant': h.titulaire.typeIdentifiant,
                     'denominationSociale': h.titulaire.denominationSociale, 'titulaire': h.titulaire.titulaire,
                     'concessionnaire': h.titulaire.concessionnaire,
                     'sibling': h.id IS NOT NULL OR h.typeIdentifiant IS NOT NULL OR h.denominationSociale IS NOT NULL
                                OR h.concessionnaire IS NOT NULL} END) AS titulaires,
           decp_fast_text(id) AS contract_id, decp_plain(id) AS id_plain,
           decp_fast_text(acheteur.id) AS siret,
           decp_fast_text(dateNotification) AS notification_date_raw,
           decp_fast_text(dateDebutExecution) AS start_text,
           decp_fast_text(datePublicationDonnees) AS publication_date_raw
    FROM src
), t2 AS (
    SELECT t1.*,
           TRY_CAST(left(notification_date_raw, 10) AS DATE) AS notification_date,
           TRY_CAST(left(start_text, 10) AS DATE) AS start_date,
           TRY_CAST(left(publication_date_raw, 10) AS DATE) AS publication_date,
           -- Every condition under which the normaliser gives exactly what this lane writes.
           $hint IS DISTINCT FROM 'concession'
           AND (_type IS NULL OR (decp_plain(_type) AND NOT contains(lower(_type), 'concession')))
           AND autoriteConcedante IS NULL AND concessionnaires IS NULL
           AND acheteur IS NOT NULL AND decp_plain(acheteur.id) AND decp_plain(acheteur.nom)
           AND contract_id IS NOT NULL AND id_plain
           AND decp_plain(uid) AND decp_plain(nature) AND decp_plain(objet) AND decp_plain(procedure)
           AND decp_plain(codeCPV)
           AND (notification_date_raw IS NULL OR decp_fast_date_ok(notification_date_raw, $today))
           AND (publication_date_raw IS NULL OR decp_fast_date_ok(publication_date_raw, $today))
           AND coalesce(TRY_CAST(left(publication_date_raw, 10) AS DATE)
                        >= TRY_CAST(left(notification_date_raw, 10) AS DATE), TRUE)
           AND (start_text IS NULL OR decp_fast_date_ok(start_text, $today))
           AND decp_fast_amount_ok(montant) AND decp_fast_duration_ok(dureeMois)
           AND (lieuExecution IS NULL OR (decp_plain(lieuExecution.code) AND decp_plain(lieuExecution.typeCode)
                                          AND decp_plain(lieuExecution.nom)))
           -- (coalesce inside: bool_and skips NULLs, and a NULL must route the record)
           AND coalesce(list_bool_and(list_transform(titulaires, lambda h: coalesce(decp_fast_holder_ok(h), FALSE))), TRUE)
           AS fast_record
    FROM t1
), t3 AS (
    -- Each date's text once, in a lambda of its own: a macro's argument is copied wherever the
    -- macro uses it, and inside a lambda nothing computes the copies once (the date checks below
    -- over decp_fast_text(...) cost ten times what they cost over a computed text).
    SELECT *,
           list_transform(modifications, lambda m, i: {
               'm': m, 'position': i - 1, 'notif_text': decp_fast_text(m.dateNotificationModification),
               'published_text': decp_fast_text(m.datePublicationDonneesModification)}) AS mods1
    FROM t2
    WHERE fast_record
), t4 AS (
    SELECT *,
           list_transform(mods1, lambda x: {
               'position': x.position, 'modification_id': decp_fast_text(x.m.id),
               'notification_date': TRY_CAST(left(x.notif_text, 10) AS DATE),
               'publication_date': TRY_CAST(left(x.published_text, 10) AS DATE),
               -- TRY_: a lambda casts every modification of a fast record, `ok` or not: one "NC"
               -- failed the typed read of the whole array (its records then all went to the exact lane)
               'amount': TRY_CAST(x.m.montant AS DOUBLE),
               'duration_months': TRY_CAST(TRY_CAST(x.m.dureeMois AS DOUBLE) AS INTEGER),
               'objet': CASE WHEN x.m.objetModification IS NOT NULL AND x.m.objetModification <> ''
                             THEN decp_fast_text(x.m.objetModification) ELSE decp_fast_text(x.m.objet) END,
               'ok': x.m.modification IS NULL AND x.m.dateSignatureModification IS NULL AND x.m.valeurGlobale IS NULL
                     AND NOT (x.m.id IS NULL AND x.m.objetModification IS NULL AND x.m.objet IS NULL
                              AND x.m.dateNotificationModification IS NULL
                              AND x.m.datePublicationDonneesModification IS NULL
                              AND x.m.montant IS NULL AND x.m.dureeMois IS NULL)
                     AND decp_plain(x.m.id) AND decp_plain(x.m.objetModification) AND decp_plain(x.m.objet)
                     AND coalesce(TRY_CAST(x.m.objetModification AS DOUBLE) <> 0, TRUE)
                     AND decp_fast_amount_ok(x.m.montant) AND decp_fast_duration_ok(x.m.dureeMois)
                     AND (x.m.dateNotificationModification IS NULL OR decp_fast_date_ok(x.notif_text, $today))
                     AND (x.m.datePublicationDonneesModification IS NULL
                          OR decp_fast_date_ok(x.published_text, $today))}) AS mods2
    FROM t3
)
SELECT position, 'marche' AS kind, siret AS buyer_siret, decp_fast_text(acheteur.nom) AS buyer_name, contract_id,
       decp_fast_text(uid) AS uid, decp_fast_text(nature) AS nature, decp_fast_text(objet) AS objet,
       decp_fast_text(procedure) AS procedure, decp_fast_text(codeCPV) AS cpv,
       CAST(montant AS DOUBLE) AS amount, CAST(CAST(dureeMois AS DOUBLE) AS INTEGER) AS duration_months,
       notification_date, start_date, publication_date, notification_date_raw, publication_date_raw,
       decp_fast_text(lieuExecution.code) AS place_code, decp_fast_text(lieuExecution.typeCode) AS place_type,
       decp_fast_text(lieuExecution.nom) AS place_name,
       -- json.dumps() of the holders: DuckDB's to_json, then the space json.dumps puts after each
       -- separator (a quote inside a value is escaped, so these patterns only meet the structure).
       CASE WHEN len(titulaires) > 0 THEN replace(replace(replace(replace(
           to_json(list_transform(titulaires, lambda h: {'id': trim(h.id, ' '), 'type_id': trim(h.typeIdentifiant, ' '),
                                                         'name': trim(h.denominationSociale, ' ')}))::VARCHAR,
           '},{"id":', '}, {"id":'), '{"id":', '{"id": '), ',"type_id":', ', "type_id": '), ',"name":', ', "name": ')
       END AS holders,
       coalesce(list_transform(mods2, lambda m: {
           'position': m.position, 'modification_id': m.modification_id, 'notification_date': m.notification_date,
           'publication_date': m.publication_date, 'amount': m.amount, 'duration_months': m.duration_months,
           'objet': m.objet}), []) AS modifications,
       -- The only findings of this lane: a missing date (absent, null or blank), worded as json_sql.sql does.
       list_filter([
           CASE WHEN notification_date_raw IS NULL THEN {
               'code': 'missing_notification_date', 'field': 'dateNotification',
               'message': 'Date de notification absente (dateNotification)', 'value': NULL::VARCHAR} END,
           CASE WHEN publication_date_raw IS NULL THEN {
               'code': 'missing_publication_date', 'field': 'datePublicationDonnees',
               'message': 'Date de publication des données absente', 'value': NULL::VARCHAR} END],
           lambda f: f IS NOT NULL) AS findings
FROM t4
WHERE coalesce(list_bool_and(list_transform(mods2, lambda m: coalesce(m.ok, FALSE))), TRUE)
  -- modification_before_notification: the earliest modification against the contract's date
  AND coalesce(list_min(list_transform(mods2, lambda m: m.notification_date)) >= notification_date, TRUE);
