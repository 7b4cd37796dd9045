from typing import Optional, Sequence

NODE_BYTES: int

def convert(source: str, target: str, side: str, record_tags: Sequence[str], record_kinds: Sequence[str],
            fields_2024: Sequence[str], empty_allowed: Sequence[str], own_keys: Sequence[str],
            list_names: Sequence[str], item_names: Sequence[str], max_text: int, max_name: int,
            max_record: int, max_depth: int, start: int = 0, end: int = -1, prefix: bytes = b"",
            suffix: bytes = b"") -> tuple[int, Optional[tuple[str, int, int, str]]]: ...
