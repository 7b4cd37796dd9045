from typing import Optional, Sequence

def scan(path: str, array_starts: Sequence[int], max_depth: int, max_key: int,
         max_offsets: int) -> tuple[Optional[tuple[str, int]], int, dict[str, bool], list[bytes]]: ...
