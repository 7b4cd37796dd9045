-- The SQL twin of decp_monitor/parse/normalise.py for DECP JSON: records of a file, read by
-- DuckDB (read_json_objects) and normalised here, with the same findings, codes and French
-- messages as the Python normaliser. Whatever this cannot reproduce exactly (a message that needs
-- Python's repr() of an odd string, a repeated field, a key with spaces, deep wrappers…) marks the
-- record `exotic`: the caller then reads the whole file with the streaming reader instead.
-- This is the exact lane: json_fast.sql's typed lane reads the plain records, this the others.
-- Macros first (per connection), then, after the stage marker line, the staging query.

-- Python's str.strip(): every character str.isspace() accepts (ASCII and Unicode spaces); the
-- placeholder is replaced by those characters when the macros are installed (json_sql.py). Most
-- values have no space at either end: the regular expression only runs for the others.
CREATE OR REPLACE TEMP MACRO decp_strip(s) AS CASE
    WHEN NOT contains('{PY_WHITESPACE}', s[1]) AND NOT contains('{PY_WHITESPACE}', s[-1]) THEN s
    ELSE regexp_replace(s, '^[{PY_WHITESPACE}]+|[{PY_WHITESPACE}]+$', '', 'g') END;

-- normalise._text(): a JSON scalar as stripped text (numbers as Python prints them), else NULL.
CREATE OR REPLACE TEMP MACRO decp_text(v) AS CASE json_type(v)
    WHEN 'VARCHAR' THEN nullif(decp_strip(json_extract_string(v, '$')), '')
    WHEN 'BIGINT' THEN v::VARCHAR
    WHEN 'UBIGINT' THEN v::VARCHAR
    WHEN 'DOUBLE' THEN TRY_CAST(json_extract_string(v, '$') AS DOUBLE)::VARCHAR
    WHEN 'BOOLEAN' THEN CASE WHEN v::VARCHAR = 'true' THEN 'True' ELSE 'False' END
    END;

-- str(value) of a raw JSON scalar, as finding() stores it in `value`.
CREATE OR REPLACE TEMP MACRO decp_raw(v) AS CASE json_type(v)
    WHEN 'VARCHAR' THEN json_extract_string(v, '$')
    WHEN 'DOUBLE' THEN TRY_CAST(json_extract_string(v, '$') AS DOUBLE)::VARCHAR
    ELSE v::VARCHAR END;

-- Python's repr() of a string, for the strings it prints plainly (printable Latin/French text);
-- NULL otherwise, which makes the finding's message NULL and the record exotic.
CREATE OR REPLACE TEMP MACRO decp_repr(s) AS CASE
    WHEN NOT regexp_full_match(s, '[\x20-\x7e\x{a1}-\x{ac}\x{ae}-\x{2ff}\x{2010}-\x{2027}\x{20ac}]*') THEN NULL
    WHEN NOT contains(s, '''') THEN '''' || replace(s, '\', '\\') || ''''
    WHEN NOT contains(s, '"') THEN '"' || replace(s, '\', '\\') || '"'
    END;

-- A JSON number that Python would not read as DuckDB does (an integer literal beyond 64 bits,
-- an overflow to infinity).
CREATE OR REPLACE TEMP MACRO decp_odd_number(v) AS json_type(v) = 'DOUBLE'
    AND (NOT regexp_matches(v::VARCHAR, '[.eE]') OR isinf(TRY_CAST(json_extract_string(v, '$') AS DOUBLE)));

-- Keys that the Python normaliser would rewrite (stray spaces) or collapse (repeated keys).
CREATE OR REPLACE TEMP MACRO decp_odd_keys(o) AS coalesce(json_type(o) = 'OBJECT' AND (
    len(json_keys(o)) <> len(list_distinct(json_keys(o)))
    OR list_bool_or(list_transform(json_keys(o), lambda k: k <> decp_strip(k)))), FALSE);

-- A string that json.dumps(ensure_ascii=False) and DuckDB's to_json might write differently.
CREATE OR REPLACE TEMP MACRO decp_odd_chars(s) AS coalesce(regexp_matches(s, '[\x00-\x1f\x7f\x{2028}\x{2029}]'), FALSE);

-- core.dates.parse_decp_date() on a text t computed beforehand: the problem code, NULL when the
-- date is fine or missing. (Macros take computed columns: nested macros would multiply the plan.)
CREATE OR REPLACE TEMP MACRO decp_missing_date(t) AS t IS NULL OR lower(t) IN ('', 'nan', 'nc', 'null', 'none', 'n/a', 'na');
CREATE OR REPLACE TEMP MACRO decp_date_problem(t) AS CASE
    WHEN decp_missing_date(t) THEN NULL
    WHEN NOT regexp_full_match(left(t, 10), '[0-9]{4}-[0-9]{2}-[0-9]{2}') THEN 'unparseable_date'
    WHEN length(t) > 10 AND NOT list_contains(['+', '-', 'T', 'Z', ' '], substr(t, 11, 1)) THEN 'unparseable_date'
    WHEN TRY_CAST(left(t, 4) AS INTEGER) NOT BETWEEN 1990 AND 2100 THEN 'absurd_year'
    WHEN TRY_CAST(left(t, 10) AS DATE) IS NULL THEN 'unparseable_date'
    END;
CREATE OR REPLACE TEMP MACRO decp_date_of(t, problem) AS CASE
    WHEN problem IS NULL AND NOT decp_missing_date(t) THEN TRY_CAST(left(t, 10) AS DATE) END;

-- normalise._date() findings of one field (text t, its problem, its date d).
CREATE OR REPLACE TEMP MACRO decp_date_findings(t, problem, d, f, today) AS [
    CASE WHEN problem IS NOT NULL THEN {
        'code': problem, 'field': f,
        'message': CASE problem WHEN 'unparseable_date' THEN 'Date illisible' ELSE 'Année invraisemblable' END
                   || ' dans « ' || f || ' » : ' || decp_repr(t),
        'value': t} END,
    CASE WHEN d > today THEN {
        'code': 'date_in_future', 'field': f,
        'message': 'Date dans le futur dans « ' || f || ' » : ' || strftime(d, '%d/%m/%Y'),
        'value': t} END];

-- normalise._number(), in three steps: decp_num_prep(v) once per value, then its state (none |
-- number | missing_text | unreadable | exotic), then the number and the findings.
CREATE OR REPLACE TEMP MACRO decp_num_comma(t) AS CASE
    WHEN length(t) - length(replace(t, ',', '')) = 1 AND NOT contains(t, '.') THEN replace(t, ',', '.') ELSE t END;
CREATE OR REPLACE TEMP MACRO decp_num_prep(v) AS {
    'jt': coalesce(json_type(v), 'NULL'), 's': json_extract_string(v, '$'),
    'nt': replace(replace(decp_strip(json_extract_string(v, '$')), chr(160), ''), ' ', ''),
    'odd': coalesce(decp_odd_number(v), FALSE), 'raw': decp_raw(v)};
CREATE OR REPLACE TEMP MACRO decp_num_state(p) AS CASE
    WHEN p.jt IN ('NULL', 'BOOLEAN') THEN 'none'
    WHEN p.jt IN ('ARRAY', 'OBJECT') OR p.odd THEN 'exotic'
    WHEN p.jt <> 'VARCHAR' THEN 'number'
    WHEN p.nt = '' THEN 'none'
    WHEN lower(p.nt) IN ('nan', 'nc', 'null', 'none') THEN 'missing_text'
    WHEN contains(p.nt, '_') OR NOT regexp_full_match(p.nt, '[\x20-\x7e]*')
         OR regexp_full_match(lower(p.nt), '[+-]?(inf|infinity|nan)') THEN 'exotic'
    WHEN NOT regexp_full_match(decp_num_comma(p.nt), '[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?')
         THEN 'unreadable'
    WHEN isinf(TRY_CAST(decp_num_comma(p.nt) AS DOUBLE)) THEN 'unreadable'
    ELSE 'number' END;
CREATE OR REPLACE TEMP MACRO decp_num_of(p, state) AS CASE
    WHEN state <> 'number' THEN NULL
    WHEN p.jt = 'VARCHAR' THEN TRY_CAST(decp_num_comma(p.nt) AS DOUBLE)
    ELSE TRY_CAST(p.s AS DOUBLE) END;
-- core/french.py's fr_amount: narrow no-break space between thousands, decimal comma, cents only
-- when there are some, a no-break space before the euro sign.
CREATE OR REPLACE TEMP MACRO decp_fr_amount(n) AS
    replace(replace(replace(CASE WHEN n = trunc(n) THEN format('{:,}', CAST(n AS HUGEINT))
                                 ELSE format('{:,.2f}', n) END, ',', '#'), '.', ','), '#', chr(8239)) || chr(160) || '€';

CREATE OR REPLACE TEMP MACRO decp_num_findings(p, state, n, f, is_amount) AS [
    CASE state
        WHEN 'missing_text' THEN {'code': 'unparseable_number', 'field': f,
            'message': 'Valeur non numérique dans « ' || f || ' » : ' || decp_repr(p.s), 'value': p.raw}
        WHEN 'unreadable' THEN {'code': 'unparseable_number', 'field': f,
            'message': 'Nombre illisible dans « ' || f || ' » : ' || decp_repr(p.s), 'value': p.raw}
        WHEN 'exotic' THEN {'code': 'unparseable_number', 'field': f, 'message': NULL, 'value': NULL}
        END,
    CASE WHEN is_amount AND n < 0 THEN {'code': 'negative_amount', 'field': f,
            'message': 'Montant négatif dans « ' || f || ' » : ' || decp_fr_amount(n), 'value': p.raw}
         WHEN is_amount AND n > 1e11 THEN {'code': 'absurd_amount', 'field': f,
            'message': CASE WHEN n < 1e21 THEN 'Montant invraisemblable dans « ' || f || ' » : '
                            || decp_fr_amount(n) || ' (plus de ' || decp_fr_amount(1e11) || ')' END,
            'value': p.raw}
         WHEN NOT is_amount AND n <> trunc(n) THEN {'code': 'unparseable_number', 'field': f,
            'message': 'Durée non entière dans « ' || f || ' » : ' || n::VARCHAR, 'value': n::VARCHAR}
         END];
-- int(number), NULL outside the INTEGER column's range (as the Python writer does).
CREATE OR REPLACE TEMP MACRO decp_int32(n) AS CASE WHEN abs(trunc(n)) <= 2147483647 THEN TRY_CAST(trunc(n) AS INTEGER) END;

-- normalise._flatten() one level deep: items of a list, {"<wrapper>": …} unwrapped once.
CREATE OR REPLACE TEMP MACRO decp_unwrap_one(e, w) AS CASE
    WHEN json_type(e) = 'OBJECT' AND json_keys(e) = [w] THEN CASE json_type(json_extract(e, '$."' || w || '"'))
        WHEN 'OBJECT' THEN [json_extract(e, '$."' || w || '"')]
        WHEN 'ARRAY' THEN json_extract(e, '$."' || w || '"[*]')
        ELSE []::JSON[] END
    WHEN json_type(e) IN ('OBJECT', 'ARRAY') THEN [e]
    ELSE []::JSON[] END;
CREATE OR REPLACE TEMP MACRO decp_unwrap(v, w) AS CASE json_type(v)
    WHEN 'ARRAY' THEN flatten(list_transform(json_extract(v, '$[*]'), lambda e: decp_unwrap_one(e, w)))
    WHEN 'OBJECT' THEN decp_unwrap_one(v, w)
    ELSE []::JSON[] END;
-- Deeper wrappers or nested lists (which _flatten() reads recursively) are left to Python.
CREATE OR REPLACE TEMP MACRO decp_unwrap_odd(items, w) AS coalesce(list_bool_or(list_transform(items, lambda e:
    json_type(e) = 'ARRAY' OR (json_type(e) = 'OBJECT' AND (json_keys(e) = [w]
        OR len(json_keys(e)) <> len(list_distinct(json_keys(e))))))), FALSE);
CREATE OR REPLACE TEMP MACRO decp_objects(items) AS list_filter(items, lambda e: json_type(e) = 'OBJECT');

-- normalise._party(): the buyer (or granting authority) object, a flattened "acheteur.id", or a
-- bare value. A list of parties gives its first object.
CREATE OR REPLACE TEMP MACRO decp_party_value(p) AS CASE
    WHEN json_type(p) = 'ARRAY' THEN decp_objects(json_extract(p, '$[*]'))[1] ELSE p END;
CREATE OR REPLACE TEMP MACRO decp_party(p, flat_id, flat_name) AS CASE
    WHEN json_type(p) = 'OBJECT' THEN {'id': decp_text(json_extract(p, '$.id')),
        'name': decp_text(json_extract(p, '$.nom')), 'present': TRUE, 'odd': decp_odd_keys(p)}
    WHEN flat_id IS NOT NULL AND json_type(flat_id) <> 'NULL' THEN {'id': decp_text(flat_id),
        'name': decp_text(flat_name), 'present': TRUE, 'odd': FALSE}
    WHEN decp_text(p) IS NOT NULL THEN {'id': decp_text(p), 'name': NULL, 'present': TRUE, 'odd': FALSE}
    ELSE {'id': NULL, 'name': NULL, 'present': FALSE, 'odd': FALSE} END;

-- normalise.detect_kind(): a key's value counts when it is text or an object.
CREATE OR REPLACE TEMP MACRO decp_has_value(v) AS decp_text(v) IS NOT NULL OR json_type(v) = 'OBJECT';

-- json.dumps(value, ensure_ascii=False) of a text or None.
CREATE OR REPLACE TEMP MACRO decp_json_text(s) AS CASE WHEN s IS NULL THEN 'null' ELSE to_json(s)::VARCHAR END;

-- Truthiness of a JSON value, as Python's `or` sees it.
CREATE OR REPLACE TEMP MACRO decp_truthy(v) AS v IS NOT NULL AND CASE json_type(v)
    WHEN 'NULL' THEN FALSE
    WHEN 'VARCHAR' THEN json_extract_string(v, '$') <> ''
    WHEN 'BOOLEAN' THEN v::VARCHAR = 'true'
    WHEN 'ARRAY' THEN json_array_length(v) > 0
    WHEN 'OBJECT' THEN len(json_keys(v)) > 0
    ELSE TRY_CAST(json_extract_string(v, '$') AS DOUBLE) <> 0 END;

-- stage --
CREATE OR REPLACE TEMP TABLE decp_stage AS
WITH src AS (
    SELECT position,
           json_type(j) = 'OBJECT' AS is_object,
           json_keys(j) AS keys,
           json_extract(j, ['$._type', '$.id', '$.uid', '$.nature', '$.objet', '$.procedure', '$.codeCPV',
                            '$.acheteur', '$.autoriteConcedante', '$."acheteur.id"', '$."acheteur.nom"',
                            '$."autoriteConcedante.id"', '$."autoriteConcedante.nom"', '$.dateNotification',
                            '$.dateSignature', '$.dateDebutExecution', '$.datePublicationDonnees', '$.montant',
                            '$.valeurGlobale', '$.dureeMois', '$.lieuExecution', '$.titulaires',
                            '$.concessionnaires', '$.modifications']) AS v
    FROM decp_source  -- the records to read exactly (position, j): json_sql.py names them
), l1 AS (
    SELECT position, is_object, keys, v,
           decp_text(v[1]) AS type_text,
           decp_party_value(v[8]) AS pa, decp_party_value(v[9]) AS pc,
           decp_text(v[9]) IS NOT NULL OR json_type(v[9]) = 'OBJECT' AS has_c9,
           decp_text(v[15]) IS NOT NULL OR json_type(v[15]) = 'OBJECT' AS has_c15,
           decp_text(v[19]) IS NOT NULL OR json_type(v[19]) = 'OBJECT' AS has_c19,
           decp_text(v[23]) IS NOT NULL OR json_type(v[23]) = 'OBJECT' AS has_c23,
           decp_unwrap(v[24], 'modification') AS mod_items
    FROM src
), l2 AS (
    SELECT *,
           CASE WHEN type_text IS NOT NULL
                     THEN CASE WHEN contains(lower(type_text), 'concession') THEN 'concession' ELSE 'marche' END
                WHEN $hint IS NOT NULL THEN $hint
                WHEN has_c9 THEN 'concession'
                WHEN NOT list_contains(keys, 'acheteur') AND (has_c15 OR has_c19 OR has_c23) THEN 'concession'
                ELSE 'marche' END AS kind,
           decp_party(pa, v[10], v[11]) AS party_a,
           decp_party(pc, v[12], v[13]) AS party_c,
           list_transform(decp_objects(mod_items), lambda m, i: {
               'position': i - 1, 'keys': json_keys(m), 'odd_keys': decp_odd_keys(m),
               'v': json_extract(m, ['$.dateSignatureModification', '$.dateNotificationModification',
                                     '$.datePublicationDonneesModification', '$.valeurGlobale', '$.montant',
                                     '$.dureeMois', '$.id', '$.objetModification', '$.objet'])}) AS mods1
    FROM l1
), l3 AS (
    SELECT *,
           kind = 'concession' AS concession,
           CASE WHEN kind = 'concession' THEN 'autoriteConcedante' ELSE 'acheteur' END AS buyer_key,
           CASE WHEN kind = 'concession' THEN (CASE WHEN party_c.present THEN party_c ELSE party_a END)
                ELSE (CASE WHEN party_a.present THEN party_a ELSE party_c END) END AS party
    FROM l2
), l4 AS (
    SELECT *,
           party.id AS siret_raw,
           decp_text(v[2]) AS contract_id,
           CASE WHEN concession AND list_contains(keys, 'dateSignature') THEN 'dateSignature'
                WHEN concession AND NOT list_contains(keys, 'dateNotification') THEN 'dateSignature'
                ELSE 'dateNotification' END AS notif_field,
           CASE WHEN concession AND list_contains(keys, 'valeurGlobale') THEN 'valeurGlobale' ELSE 'montant' END
               AS amount_field,
           CASE WHEN concession THEN (CASE WHEN coalesce(json_type(v[23]), 'NULL') = 'NULL' THEN v[22] ELSE v[23] END)
                ELSE (CASE WHEN coalesce(json_type(v[22]), 'NULL') = 'NULL' THEN v[23] ELSE v[22] END) END
               AS holders_raw,
           list_transform(mods1, lambda m: {
               'position': m.position, 'odd_keys': m.odd_keys, 'v': m.v,
               'notif_field': CASE WHEN list_contains(m.keys, 'dateSignatureModification')
                                   THEN 'dateSignatureModification' ELSE 'dateNotificationModification' END,
               'notif_text': decp_text(CASE WHEN list_contains(m.keys, 'dateSignatureModification')
                                            THEN m.v[1] ELSE m.v[2] END),
               'published_text': decp_text(m.v[3]),
               'amount_field': CASE WHEN list_contains(m.keys, 'valeurGlobale') THEN 'valeurGlobale' ELSE 'montant' END,
               'amount': decp_num_prep(CASE WHEN list_contains(m.keys, 'valeurGlobale') THEN m.v[4] ELSE m.v[5] END),
               'duration': decp_num_prep(m.v[6]),
               'id': decp_text(m.v[7]),
               'objet': decp_text(CASE WHEN decp_truthy(m.v[8]) THEN m.v[8] ELSE m.v[9] END)}) AS mods2
    FROM l3
), l5 AS (
    SELECT *,
           siret_digits(siret_raw) AS siret_digits,
           decp_text(CASE WHEN notif_field = 'dateSignature' THEN v[15] ELSE v[14] END) AS notification_date_raw,
           decp_text(v[16]) AS start_text,
           decp_text(v[17]) AS publication_date_raw,
           decp_num_prep(CASE WHEN amount_field = 'valeurGlobale' THEN v[19] ELSE v[18] END) AS amount_p,
           decp_num_prep(v[20]) AS duration_p,
           decp_unwrap(holders_raw, 'titulaire') AS holder_items,
           list_transform(mods2, lambda m: {
               'position': m.position, 'odd_keys': m.odd_keys, 'v': m.v, 'notif_field': m.notif_field,
               'notif_text': m.notif_text, 'notif_problem': decp_date_problem(m.notif_text),
               'published_text': m.published_text, 'published_problem': decp_date_problem(m.published_text),
               'amount_field': m.amount_field, 'amount': m.amount, 'amount_state': decp_num_state(m.amount),
               'duration': m.duration, 'duration_state': decp_num_state(m.duration),
               'id': m.id, 'objet': m.objet}) AS mods3
    FROM l4
), l6 AS (
    SELECT *,
           coalesce(siret_digits, siret_raw) AS buyer_siret,
           CASE WHEN siret_raw IS NOT NULL THEN siret_problem_of(siret_digits) END AS siret_problem,
           decp_date_problem(notification_date_raw) AS notif_problem,
           decp_date_problem(start_text) AS start_problem,
           decp_date_problem(publication_date_raw) AS publication_problem,
           decp_num_state(amount_p) AS amount_state,
           decp_num_state(duration_p) AS duration_state,
           flatten(list_transform(decp_objects(holder_items), lambda h: CASE
               WHEN json_keys(h) = ['concessionnaire'] THEN decp_unwrap(json_extract(h, '$.concessionnaire'), 'concessionnaire')
               ELSE [h] END)) AS holder_objects,
           list_transform(mods3, lambda m: {
               'position': m.position, 'odd_keys': m.odd_keys, 'v': m.v, 'notif_field': m.notif_field,
               'notif_text': m.notif_text, 'notif_problem': m.notif_problem,
               'notification_date': decp_date_of(m.notif_text, m.notif_problem),
               'published_text': m.published_text, 'published_problem': m.published_problem,
               'publication_date': decp_date_of(m.published_text, m.published_problem),
               'amount_field': m.amount_field, 'amount_p': m.amount, 'amount_state': m.amount_state,
               'amount': decp_num_of(m.amount, m.amount_state),
               'duration_p': m.duration, 'duration_state': m.duration_state,
               'duration': decp_num_of(m.duration, m.duration_state),
               'id': m.id, 'objet': m.objet}) AS mods4
    FROM l5
), l7 AS (
    SELECT *,
           decp_date_of(notification_date_raw, notif_problem) AS notification_date,
           decp_date_of(start_text, start_problem) AS start_date,
           decp_date_of(publication_date_raw, publication_problem) AS publication_date,
           decp_num_of(amount_p, amount_state) AS amount,
           decp_num_of(duration_p, duration_state) AS duration,
           list_transform(holder_objects, lambda h: {'id': decp_text(json_extract(h, '$.id')),
                                                     'type_id': decp_text(json_extract(h, '$.typeIdentifiant')),
                                                     'name': decp_text(json_extract(h, '$.denominationSociale'))}) AS holders
    FROM l6
), l8 AS (
    SELECT *,
           list_transform(mods4, lambda m: {
               'position': m.position, 'modification_id': m.id, 'notification_date': m.notification_date,
               'publication_date': m.publication_date, 'amount': m.amount,
               'duration_months': decp_int32(m.duration), 'objet': m.objet,
               'odd': m.odd_keys OR coalesce(list_bool_or(list_transform(m.v,
                          lambda x: coalesce(json_type(x) = 'ARRAY' OR decp_odd_number(x), FALSE))), FALSE),
               'findings': list_concat(
                   decp_date_findings(m.notif_text, m.notif_problem, m.notification_date, m.notif_field, $today),
                   decp_date_findings(m.published_text, m.published_problem, m.publication_date,
                                      'datePublicationDonneesModification', $today),
                   [CASE WHEN m.notification_date < notification_date THEN {
                       'code': 'modification_before_notification', 'field': m.notif_field,
                       'message': 'Modification n°' || (m.position + 1) || ' notifiée le '
                                  || strftime(m.notification_date, '%d/%m/%Y') || ', avant le contrat ('
                                  || strftime(notification_date, '%d/%m/%Y') || ')',
                       'value': strftime(m.notification_date, '%Y-%m-%d')} END],
                   decp_num_findings(m.amount_p, m.amount_state, m.amount, m.amount_field, TRUE),
                   decp_num_findings(m.duration_p, m.duration_state, m.duration, 'dureeMois', FALSE))}) AS mods5
    FROM l7
)
SELECT position, kind, buyer_siret, party.name AS buyer_name, contract_id,
       decp_text(v[3]) AS uid, decp_text(v[4]) AS nature, decp_text(v[5]) AS objet, decp_text(v[6]) AS procedure,
       CASE WHEN json_type(v[7]) = 'ARRAY' THEN decp_text(json_extract(v[7], '$[0]')) ELSE decp_text(v[7]) END AS cpv,
       amount,
       decp_int32(duration) AS duration_months,
       notification_date, start_date, publication_date, notification_date_raw, publication_date_raw,
       CASE WHEN json_type(v[21]) = 'OBJECT' THEN decp_text(json_extract(v[21], '$.code')) END AS place_code,
       CASE WHEN json_type(v[21]) = 'OBJECT' THEN decp_text(json_extract(v[21], '$.typeCode')) END AS place_type,
       CASE WHEN json_type(v[21]) = 'OBJECT' THEN decp_text(json_extract(v[21], '$.nom')) END AS place_name,
       CASE WHEN len(holders) > 0 THEN '[' || array_to_string(list_transform(holders, lambda h:
           '{"id": ' || decp_json_text(h.id) || ', "type_id": ' || decp_json_text(h.type_id)
           || ', "name": ' || decp_json_text(h.name) || '}'), ', ') || ']' END AS holders,
       list_transform(mods5, lambda m: {'position': m.position, 'modification_id': m.modification_id,
                                        'notification_date': m.notification_date, 'publication_date': m.publication_date,
                                        'amount': m.amount, 'duration_months': m.duration_months,
                                        'objet': m.objet}) AS modifications,
       list_filter(list_concat(
           [CASE WHEN siret_raw IS NULL THEN {'code': 'missing_buyer', 'field': buyer_key,
                                              'message': 'Acheteur absent (pas d''identifiant)', 'value': NULL::VARCHAR}
                 WHEN siret_problem IS NOT NULL THEN {'code': 'invalid_siret', 'field': buyer_key || '.id',
                     'message': 'SIRET de l''acheteur invalide : ' || siret_problem, 'value': siret_raw} END,
            CASE WHEN contract_id IS NULL THEN {'code': 'missing_id', 'field': 'id',
                     'message': 'Identifiant du contrat absent', 'value': NULL} END],
           decp_date_findings(notification_date_raw, notif_problem, notification_date, notif_field, $today),
           decp_date_findings(start_text, start_problem, start_date, 'dateDebutExecution', $today),
           decp_date_findings(publication_date_raw, publication_problem, publication_date, 'datePublicationDonnees', $today),
           [CASE WHEN notification_date IS NULL AND notification_date_raw IS NULL THEN {
                     'code': 'missing_notification_date', 'field': notif_field,
                     'message': 'Date de notification absente (' || notif_field || ')', 'value': NULL} END,
            CASE WHEN publication_date IS NULL AND publication_date_raw IS NULL THEN {
                     'code': 'missing_publication_date', 'field': 'datePublicationDonnees',
                     'message': 'Date de publication des données absente', 'value': NULL} END,
            CASE WHEN publication_date < notification_date THEN {
                     'code': 'publication_before_notification', 'field': 'datePublicationDonnees',
                     'message': 'Publication déclarée (' || strftime(publication_date, '%d/%m/%Y')
                                || ') antérieure à la notification (' || strftime(notification_date, '%d/%m/%Y') || ')',
                     'value': publication_date_raw} END],
           decp_num_findings(amount_p, amount_state, amount, amount_field, TRUE),
           decp_num_findings(duration_p, duration_state, duration, 'dureeMois', FALSE),
           flatten(list_transform(mods5, lambda m: m.findings))), lambda x: x IS NOT NULL) AS findings,
       -- Anything the Python normaliser does that this query does not reproduce exactly.
       NOT is_object
       OR coalesce(len(keys) <> len(list_distinct(keys)), FALSE)
       OR coalesce(list_bool_or(list_transform(keys, lambda k: k <> decp_strip(k))), FALSE)
       OR party_a.odd OR party_c.odd
       OR decp_odd_keys(v[21])
       OR coalesce(list_bool_or(list_transform([v[14], v[15], v[16], v[17], v[18], v[19], v[20]],
                                               lambda x: coalesce(json_type(x) = 'ARRAY', FALSE))), FALSE)
       OR coalesce(list_bool_or(list_transform([v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[14], v[15], v[16], v[17]],
                                               lambda x: coalesce(decp_odd_number(x), FALSE))), FALSE)
       OR decp_unwrap_odd(mod_items, 'modification')
       OR decp_unwrap_odd(holder_items, 'titulaire')
       OR decp_unwrap_odd(holder_objects, 'concessionnaire')
       OR coalesce(list_bool_or(list_transform(mods5, lambda m: m.odd)), FALSE)
       OR coalesce(list_bool_or(list_transform(holders, lambda h: decp_odd_chars(h.id) OR decp_odd_chars(h.type_id)
                                                       OR decp_odd_chars(h.name))), FALSE)
       AS exotic
FROM l8;
