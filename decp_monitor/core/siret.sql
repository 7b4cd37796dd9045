-- The SIRET rule in SQL, the twin of decp_monitor/core/siret.py (python-stdnum's fr.siret), tested
-- against it on generated numbers. Luhn from the right: every second digit doubled.
-- Digit i (1-based) of s, and its Luhn double. Written out for the 14 and 9 digits of a SIRET and
-- a SIREN without lambdas: vectorised, some twenty times cheaper than a lambda over the digits.
CREATE OR REPLACE TEMP MACRO decp_digit(s, i) AS ord(s[i]) - 48;
CREATE OR REPLACE TEMP MACRO decp_luhn_double(x) AS 2 * x - CASE WHEN x > 4 THEN 9 ELSE 0 END;
CREATE OR REPLACE TEMP MACRO decp_luhn14_ok(s) AS (
    decp_luhn_double(decp_digit(s, 1)) + decp_digit(s, 2) + decp_luhn_double(decp_digit(s, 3)) + decp_digit(s, 4)
    + decp_luhn_double(decp_digit(s, 5)) + decp_digit(s, 6) + decp_luhn_double(decp_digit(s, 7)) + decp_digit(s, 8)
    + decp_luhn_double(decp_digit(s, 9)) + decp_digit(s, 10) + decp_luhn_double(decp_digit(s, 11))
    + decp_digit(s, 12) + decp_luhn_double(decp_digit(s, 13)) + decp_digit(s, 14)) % 10 = 0;
CREATE OR REPLACE TEMP MACRO decp_luhn9_ok(s) AS (
    decp_digit(s, 1) + decp_luhn_double(decp_digit(s, 2)) + decp_digit(s, 3) + decp_luhn_double(decp_digit(s, 4))
    + decp_digit(s, 5) + decp_luhn_double(decp_digit(s, 6)) + decp_digit(s, 7) + decp_luhn_double(decp_digit(s, 8))
    + decp_digit(s, 9)) % 10 = 0;

-- 14 digits; La Poste's establishments (356000000…, head office aside) by digit sum modulo 5,
-- the others by Luhn; the SIREN (first 9 digits) by Luhn in every case.
CREATE OR REPLACE TEMP MACRO siret_is_valid(s) AS
    CASE WHEN NOT coalesce(regexp_full_match(s, '[0-9]{14}'), FALSE) THEN FALSE
         WHEN starts_with(s, '{LA_POSTE_SIREN}') AND s <> '{LA_POSTE_HEAD_OFFICE}'
              THEN list_sum(list_transform(range(14), lambda i: CAST(s[i + 1] AS INTEGER))) % 5 = 0
                   AND decp_luhn9_ok(s)
         ELSE decp_luhn14_ok(s) AND decp_luhn9_ok(s)
    END;

-- clean_siret(): the digits of a SIRET as typed (spaces, dots, NBSP, dashes removed), NULL when
-- anything else remains. ({…} are filled by siret.install_sql() from siret.py.)
CREATE OR REPLACE TEMP MACRO siret_digits(raw) AS
    CASE WHEN regexp_full_match(regexp_replace(raw, '[{STRIPPED_CLASS}]', '', 'g'), '[0-9]+')
         THEN regexp_replace(raw, '[{STRIPPED_CLASS}]', '', 'g') END;

-- siret_problem() for a SIRET given and cleaned by siret_digits(): NULL when valid.
CREATE OR REPLACE TEMP MACRO siret_problem_of(digits) AS
    CASE WHEN digits IS NULL THEN '{NOT_DIGITS}'
         WHEN length(digits) <> 14 THEN replace('{WRONG_LENGTH}', '{n}', length(digits)::VARCHAR)
         WHEN siret_is_valid(digits) THEN NULL
         WHEN starts_with(digits, '{LA_POSTE_SIREN}') AND digits <> '{LA_POSTE_HEAD_OFFICE}' THEN '{LA_POSTE_KEY}'
         WHEN NOT decp_luhn14_ok(digits) THEN '{LUHN_KEY}'
         ELSE '{SIREN_KEY}' END;
