"""Child process of the hostile-server trials: one refresh, settings given as JSON.

    python -m tests.reliability.refresh_child API_BASE DATA_DIR '{"settings": {...}, "dataset_ids": [...]}'

Exit 0 when a version is published, 3 when the refresh is refused (StoreError, message on stdout).
"""
import json
import sys

from decp_monitor.pipeline.refresh import run_refresh
from decp_monitor.sources.http import HttpSettings
from decp_monitor.store.versions import Store, StoreError


def main() -> int:
    api_base, data_dir, options = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    settings = HttpSettings(**options.pop("settings", {}))
    try:
        summary = run_refresh(Store(data_dir), api_base=api_base, settings=settings, **options)
    except StoreError as exc:
        print(exc)
        return 3
    print(summary.text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
