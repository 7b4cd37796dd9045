from typing import Optional, Sequence

def scan(path: str, array_starts: Sequence[int],
         max_depth: int) -> tuple[Optional[tuple[str, int]], int, bool, list[bytes]]: ...
