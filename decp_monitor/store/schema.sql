-- The stored tables of one database version. Documented column by column in docs/SCHEMA.md.
-- Derived tables (contracts, modifications, compliance) are rebuilt from these at every build.

CREATE TABLE IF NOT EXISTS meta (
    key VARCHAR PRIMARY KEY,
    value VARCHAR
);

CREATE TABLE IF NOT EXISTS datasets (
    dataset_id VARCHAR,
    title VARCHAR,
    slug VARCHAR,
    url VARCHAR,                 -- page on data.gouv.fr
    tags VARCHAR[],
    extras JSON,
    extras_siret VARCHAR,        -- extras.siret as given
    license VARCHAR,
    frequency VARCHAR,
    organization_id VARCHAR,
    organization_name VARCHAR,
    owner_id VARCHAR,
    created_at TIMESTAMP,
    last_modified TIMESTAMP,
    last_update TIMESTAMP,
    archived BOOLEAN,
    deleted BOOLEAN,
    private BOOLEAN,
    resource_count INTEGER,
    source VARCHAR               -- where the metadata came from (API URL or local file)
);

CREATE TABLE IF NOT EXISTS resources (
    resource_id VARCHAR,
    dataset_id VARCHAR,
    title VARCHAR,
    url VARCHAR,
    latest VARCHAR,
    filetype VARCHAR,            -- file | remote
    type VARCHAR,                -- main | documentation | update | api | code | other
    format VARCHAR,
    mime VARCHAR,
    filesize BIGINT,
    checksum_type VARCHAR,
    checksum_value VARCHAR,
    created_at TIMESTAMP,
    last_modified TIMESTAMP,
    schema_name VARCHAR,
    schema_version VARCHAR,
    schema_url VARCHAR,
    extras JSON,
    classification VARCHAR,      -- decp | declaration | documentation | other
    classification_reason VARCHAR,
    local_file VARCHAR,          -- cache path of the downloaded file, when downloaded
    download_status VARCHAR      -- downloaded | unchanged | failed | skipped | not_attempted
);

CREATE TABLE IF NOT EXISTS declarations (
    siret VARCHAR,               -- 14 digits, NULL when it could not be recovered
    siret_raw VARCHAR,
    url_profil_acheteur VARCHAR,
    url_dcat VARCHAR,
    coordonnees VARCHAR,
    source_file VARCHAR,
    resource_id VARCHAR,
    line INTEGER
);

CREATE TABLE IF NOT EXISTS records (
    record_id BIGINT,            -- unique within a version
    source_file VARCHAR,
    resource_id VARCHAR,         -- data.gouv.fr resource the file came from, NULL for local files
    position INTEGER,            -- 0-based index of the record in its file
    format VARCHAR,              -- json-2019 | json-2024 | xml-2019 | xml-2024
    kind VARCHAR,                -- marche | concession
    buyer_siret VARCHAR,
    buyer_name VARCHAR,
    contract_id VARCHAR,
    uid VARCHAR,
    nature VARCHAR,
    objet VARCHAR,
    procedure VARCHAR,
    cpv VARCHAR,
    amount DOUBLE,
    duration_months INTEGER,
    notification_date DATE,
    start_date DATE,
    publication_date DATE,
    notification_date_raw VARCHAR,
    publication_date_raw VARCHAR,
    place_code VARCHAR,
    place_type VARCHAR,
    place_name VARCHAR,
    holders JSON,
    modification_count INTEGER
);

CREATE TABLE IF NOT EXISTS record_modifications (
    record_id BIGINT,
    position INTEGER,
    modification_id VARCHAR,
    notification_date DATE,
    publication_date DATE,
    amount DOUBLE,
    duration_months INTEGER,
    objet VARCHAR
);

CREATE TABLE IF NOT EXISTS findings (
    source_file VARCHAR,
    resource_id VARCHAR,
    position INTEGER,
    field VARCHAR,
    code VARCHAR,
    severity VARCHAR,
    message VARCHAR,
    value VARCHAR,
    buyer_siret VARCHAR,
    contract_id VARCHAR
);

-- Which reader read each DECP file: "DuckDB (SQL)", "expat → JSON → DuckDB (SQL)" (XML) or
-- "lecteur en flux", with the French reason DuckDB was not used for it (NULL when the streaming
-- reader was asked for).
CREATE TABLE IF NOT EXISTS file_readers (
    source_file VARCHAR,
    resource_id VARCHAR,
    reader VARCHAR,
    reason VARCHAR
);

-- When decp-monitor first saw each contract: carried from version to version, so the monitor
-- itself witnesses when data appeared.
CREATE TABLE IF NOT EXISTS sightings (
    buyer_siret VARCHAR,
    contract_id VARCHAR,
    notification_date DATE,
    first_seen TIMESTAMP
);

CREATE TABLE IF NOT EXISTS refreshes (
    refresh_id VARCHAR,
    started_at TIMESTAMP,
    finished_at TIMESTAMP,
    command VARCHAR,             -- demo | load | refresh
    source VARCHAR,              -- API base URL or paths
    outcome VARCHAR,             -- published | failed | refused
    message VARCHAR,
    datasets INTEGER,
    resources INTEGER,
    files INTEGER,
    records INTEGER,
    findings INTEGER,
    bytes_downloaded BIGINT
);

-- The register of buyers: what the national company register (register_* sources) and the data
-- (data_* columns) say about each SIRET the data mentions. Carried from version to version and
-- rebuilt at each build by decp_monitor/register/apply.py.
CREATE TABLE IF NOT EXISTS register (
    siret VARCHAR,
    siren VARCHAR,
    found BOOLEAN,               -- a register knows this SIRET
    name VARCHAR,                -- the establishment as a reader names it (sign, else legal name)
    legal_name VARCHAR,          -- the legal unit (SIREN)
    categorie_juridique VARCHAR, -- INSEE code, 4 digits
    categorie_juridique_label VARCHAR,
    kind VARCHAR,                -- commune | departement | region | epci | hopital | etat | … (register/kinds.py)
    state VARCHAR,               -- establishment: A active | F closed
    closed_on DATE,
    legal_state VARCHAR,         -- legal unit: A active | C ceased
    commune_code VARCHAR,        -- INSEE code (arrondissement codes for Paris, Lyon, Marseille)
    commune_name VARCHAR,
    departement VARCHAR,         -- derived from the commune code
    region VARCHAR,
    head_office_siret VARCHAR,
    is_head_office BOOLEAN,
    non_diffusible BOOLEAN,
    source VARCHAR,              -- recherche-entreprises | api-entreprise | insee | demo
    fetched_at TIMESTAMP,
    data_name VARCHAR,           -- latest name published in the data, else the declaration's
    data_name_source VARCHAR,    -- donnees | declaration
    data_departement VARCHAR     -- from the declaration's postcode
);
