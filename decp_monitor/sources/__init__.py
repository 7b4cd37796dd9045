"""Everything that talks to data.gouv.fr: a polite HTTP client, the udata API crawl, the download cache."""
