-- The SIRET rule in SQL, the twin of decp_monitor/core/siret.py (python-stdnum's fr.siret), tested
-- against it on generated numbers. Luhn from the right: every second digit doubled.
CREATE OR REPLACE TEMP MACRO decp_luhn_ok(s) AS
    list_sum(list_transform(range(length(s)), lambda i:
        CASE WHEN (length(s) - 1 - i) % 2 = 1
             THEN 2 * CAST(s[i + 1] AS INTEGER) - CASE WHEN CAST(s[i + 1] AS INTEGER) > 4 THEN 9 ELSE 0 END
             ELSE CAST(s[i + 1] AS INTEGER) END)) % 10 = 0;

-- 14 digits; La Poste's establishments (356000000…, head office aside) by digit sum modulo 5,
-- the others by Luhn; the SIREN (first 9 digits) by Luhn in every case.
CREATE OR REPLACE TEMP MACRO siret_is_valid(s) AS
    CASE WHEN NOT coalesce(regexp_full_match(s, '[0-9]{14}'), FALSE) THEN FALSE
         WHEN starts_with(s, '356000000') AND s <> '35600000000048'
              THEN list_sum(list_transform(range(14), lambda i: CAST(s[i + 1] AS INTEGER))) % 5 = 0
                   AND decp_luhn_ok(left(s, 9))
         ELSE decp_luhn_ok(s) AND decp_luhn_ok(left(s, 9))
    END;
