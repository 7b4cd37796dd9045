"""Download cache: `<data_dir>/cache/<resource_id>` plus a JSON sidecar saying what was fetched.

A resource is downloaded again only when the platform says it changed: another checksum, or,
when no checksum is published, another last_modified or size (or another URL). The sidecar
also remembers a CSV that turned out not to be a declaration, so that it is not fetched again.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any, Optional

SIDECAR_SUFFIX = ".meta.json"
_SAFE = re.compile(r"[^A-Za-z0-9_-]")


def cache_key(resource_id: Optional[str], url: Optional[str]) -> str:
    """A file name for the resource: its id when it is a plain token, else a hash (ids come from the network)."""
    if resource_id and not _SAFE.search(resource_id) and len(resource_id) <= 100:
        return resource_id
    seed = f"{resource_id or ''}|{url or ''}".encode("utf-8", "replace")
    return "h-" + hashlib.sha1(seed).hexdigest()


def _iso(value: Any) -> Optional[str]:
    if value is None:
        return None
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return str(value)


def fingerprint(resource: dict) -> dict:
    """What the catalogue says about a resource's content, as stored in the sidecar."""
    return {
        "url": resource.get("url"),
        "checksum": resource.get("checksum_value"),
        "last_modified": _iso(resource.get("last_modified")),
        "filesize": resource.get("filesize"),
    }


def same_content(now: dict, then: dict) -> bool:
    """Whether two fingerprints (see fingerprint()) describe the same file: same checksum when
    both have one, else same URL, last_modified and size; never when nothing can tell."""
    if now.get("checksum") and then.get("checksum"):
        return now["checksum"] == then["checksum"]
    if now.get("last_modified") is None and now.get("filesize") is None:
        return False  # nothing tells that it did not change
    return (
        now.get("url") == then.get("url")
        and now.get("last_modified") == then.get("last_modified")
        and now.get("filesize") == then.get("filesize")
    )


class DownloadCache:
    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, resource: dict) -> Path:
        return self.root / cache_key(resource.get("resource_id"), resource.get("url"))

    def sidecar_path(self, resource: dict) -> Path:
        path = self.path(resource)
        return path.with_name(path.name + SIDECAR_SUFFIX)

    def entry(self, resource: dict) -> Optional[dict]:
        try:
            return json.loads(self.sidecar_path(resource).read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError, OSError):
            return None

    def cached_file(self, resource: dict) -> Optional[Path]:
        """The cached file when it is whole (its size matches the sidecar), whatever its age."""
        entry = self.entry(resource)
        path = self.path(resource)
        if entry is None:
            return None
        try:
            if path.stat().st_size != entry.get("stored_bytes"):
                return None
        except OSError:
            return None
        return path

    def is_fresh(self, resource: dict) -> bool:
        """True when the cached copy is the one the catalogue describes now."""
        entry = self.entry(resource)
        if entry is None or self.cached_file(resource) is None:
            return False
        return same_content(fingerprint(resource), entry)

    def store(self, resource: dict, download, complete: bool = True, note: Optional[str] = None) -> Path:
        """Record a finished download (already written at `self.path(resource)`)."""
        entry = fingerprint(resource)
        entry.update({
            "resource_id": resource.get("resource_id"),
            "stored_bytes": download.size,
            "sha1": download.sha1,
            "final_url": download.final_url,
            "complete": complete,
            "note": note,
            "fetched_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        })
        sidecar = self.sidecar_path(resource)
        tmp = sidecar.with_name(sidecar.name + ".tmp")
        tmp.write_text(json.dumps(entry, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, sidecar)
        return self.path(resource)
