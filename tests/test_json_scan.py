"""The byte scan in C (parse/_jsonscan.c, json_sql.scan) against what json.loads sees, on random
documents and on random damage to them: record offsets, spaced keys, U+FFFD, nesting, no crash."""
from __future__ import annotations

import errno
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from decp_monitor.parse import _jsonscan
from decp_monitor.parse.json_sql import DEPTH_WATCH, plan, scan

TEXT = st.text(alphabet=st.sampled_from(list('ab "\\{}[]:,\n\t') + ["\u00a0", "\u3000", "\ufffd", "é", "\u2028"]),
               max_size=8)
VALUE = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | TEXT,
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
                     max_leaves=8)
RECORD = st.dictionaries(TEXT, VALUE, max_size=4)


def keys_of(value) -> list[str]:
    if isinstance(value, dict):
        return list(value) + [k for v in value.values() for k in keys_of(v)]
    if isinstance(value, list):
        return [k for v in value for k in keys_of(v)]
    return []


def texts_of(value) -> list[str]:
    if isinstance(value, dict):
        return list(value) + [t for v in value.values() for t in texts_of(v)]
    if isinstance(value, list):
        return [t for v in value for t in texts_of(v)]
    return [value] if isinstance(value, str) else []


@settings(max_examples=50, deadline=None)
@given(records=st.lists(RECORD, max_size=6), indent=st.sampled_from([None, 1]), ascii_only=st.booleans())
def test_the_scan_agrees_with_json_loads(tmp_path_factory, records, indent, ascii_only):
    body = json.dumps({"marches": records}, indent=indent, ensure_ascii=ascii_only).encode()
    path = tmp_path_factory.mktemp("scan") / "r.json"
    path.write_bytes(body)
    arrays = plan(body)[1]
    scanned = scan(path, arrays)
    assert scanned.reason == ""
    starts = list(scanned.starts[0])
    # each offset is a record's "{": the text from it to the next one is that record
    ends = starts[1:] + [arrays[0].end]
    for record, start, end in zip(records, starts, ends):
        text = body[start:end].rstrip().rstrip(b",]").rstrip()
        assert json.loads(text) == record
    assert len(starts) == len(records)
    keys = keys_of(records)
    spaced = any(k != k.strip() for k in keys) or (any(json.dumps(k, ensure_ascii=ascii_only)[1:-1] != k
                                                       for k in keys))
    assert scanned.spaced_keys is spaced  # a key with an escape counts as spaced (conservative)
    if not ascii_only:
        assert scanned.replacement == sum(t.count("\ufffd") for t in texts_of(records))


@settings(max_examples=80, deadline=None)
@given(records=st.lists(RECORD, min_size=1, max_size=4), seed=st.integers(0, 2**32))
def test_damaged_bytes_never_crash_the_scan(tmp_path_factory, records, seed):
    body = bytearray(json.dumps({"marches": records}, ensure_ascii=False).encode())
    rng = random.Random(seed)
    for _ in range(rng.randint(1, 6)):
        if not body:
            return
        at = rng.randrange(len(body))
        action = rng.randrange(4)
        if action == 0:
            body[at] = rng.randrange(256)
        elif action == 1:
            body[at:at] = rng.choice([b"[" * 200, b'"', b"\\", b"\xef\xbf", b"NaN", b"{"])
        elif action == 2:
            del body[at:at + rng.randint(1, 8)]
        else:
            body = body[:at]
    if not body:
        return
    path = tmp_path_factory.mktemp("damaged") / "d.json"
    path.write_bytes(bytes(body))
    problem, replacement, flags, packed = _jsonscan.scan(str(path), [0, len(body) // 2], DEPTH_WATCH, 256, 4)
    assert problem is None or problem[0] in ("nan", "depth", "comma")
    assert replacement >= 0 and set(flags) == {"spaced_keys", "long_keys", "wrapped_keys", "scalars", "too_many"}
    assert all(len(offsets) % 8 == 0 and len(offsets) <= 4 * 8 for offsets in packed)


def test_record_offsets_are_bounded(tmp_path, monkeypatch):
    from decp_monitor.parse import json_sql

    path = tmp_path / "many.json"
    path.write_bytes(b"[" + b",".join([b'{"id": "1"}'] * 50) + b"]")
    assert len(scan(path, plan(path.read_bytes())[1]).starts[0]) == 50
    monkeypatch.setattr(json_sql, "MAX_OFFSETS", 10)
    scanned = scan(path, plan(path.read_bytes())[1])
    assert len(scanned.starts[0]) == 0 and not scanned.by_offset and scanned.reason == ""


def _nan_free(value):
    """The value json.loads gives of a document, NaN and ±Infinity read as None (the sanitising pass)."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, dict):
        return {k: _nan_free(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nan_free(v) for v in value]
    return value


@settings(max_examples=60, deadline=None)
@given(value=st.recursive(st.none() | st.integers() | st.sampled_from([float("nan"), float("inf"), float("-inf")])
                          | TEXT | st.sampled_from(["NaN", "-Infinity", "Infinity", 'a"NaN', "\\NaN"]),
                          lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
                          max_leaves=10),
       ascii_only=st.booleans())
def test_the_nan_copy_is_what_json_loads_reads_with_bare_values_absent(tmp_path_factory, value, ascii_only):
    """Bare NaN/Infinity (which json.dumps writes) become null; the same words inside texts stay."""
    body = json.dumps(value, ensure_ascii=ascii_only).encode()
    folder = tmp_path_factory.mktemp("nan")
    (folder / "s.json").write_bytes(body)
    replaced = _jsonscan.sanitise(str(folder / "s.json"), str(folder / "c.json"))
    copy = (folder / "c.json").read_bytes()
    assert json.loads(copy) == _nan_free(json.loads(body))
    assert replaced == body.count(b"NaN") + body.count(b"Infinity") - (copy.count(b"NaN") + copy.count(b"Infinity"))
    assert b"NaN" not in copy or b'"' in copy  # what is left is inside texts


def test_a_nan_copy_onto_its_own_source_is_refused(tmp_path):
    """Opening the copy truncated the source under its mapping: reading it then killed the process
    (SIGBUS) and left the file empty. The same file, by its name or another link, is refused."""
    source = tmp_path / "s.json"
    source.write_bytes(b"[NaN, 1]" + b" " * 10_000)
    os.link(source, tmp_path / "link.json")
    for target in (source, tmp_path / "link.json"):
        with pytest.raises(OSError) as refused:
            _jsonscan.sanitise(str(source), str(target))
        assert refused.value.errno == errno.EINVAL
    assert source.read_bytes() == b"[NaN, 1]" + b" " * 10_000


def test_the_nan_copy_goes_on_when_a_signal_interrupts_a_write(tmp_path):
    """A write() a signal interrupts before it wrote anything fails with EINTR (Python installs its
    handlers without SA_RESTART): the copy writes again instead of giving up. A pipe the reader empties
    late makes the copy wait in write() while signals arrive."""
    body = b"[" + b"NaN, " * 400_000 + b"1]"
    source, pipe = tmp_path / "s.json", tmp_path / "copy.fifo"
    source.write_bytes(body)
    os.mkfifo(pipe)
    main, received, chunks = threading.get_ident(), [], []

    def drain():
        with open(pipe, "rb", buffering=0) as reading:
            for _ in range(6):  # the pipe is full: the copy is blocked in write()
                time.sleep(0.03)
                signal.pthread_kill(main, signal.SIGUSR1)
            while chunk := reading.read(1 << 16):
                chunks.append(chunk)

    previous = signal.signal(signal.SIGUSR1, lambda *_: received.append(1))
    thread = threading.Thread(target=drain)
    thread.start()
    try:
        replaced = _jsonscan.sanitise(str(source), str(pipe))
    finally:
        thread.join()
        signal.signal(signal.SIGUSR1, previous)
    assert received and replaced == 400_000
    assert b"".join(chunks) == b"[" + b"null, " * 400_000 + b"1]"


def _peak_resident_mb() -> float:
    return int(Path("/proc/self/status").read_text().split("VmHWM:")[1].split()[0]) / 1024


def test_the_nan_copy_does_not_keep_a_long_string_resident(tmp_path):
    """Pages of the source are given back as the copy passes them, inside a string too (a hostile
    file of one 120 MB string held it all resident). The string is a hole in a sparse file: quick
    to write, each page read from it still resident."""
    source = tmp_path / "s.json"
    with open(source, "wb") as handle:
        handle.write(b'[NaN, "')
        handle.seek(120 << 20)
        handle.write(b'"]')
    Path("/proc/self/clear_refs").write_text("5")  # the peak starts again from the current size
    before = _peak_resident_mb()
    assert _jsonscan.sanitise(str(source), os.devnull) == 1
    assert _peak_resident_mb() - before < 80


def test_the_nan_copy_of_many_nan_does_not_keep_the_file_resident(tmp_path):
    """A file of many NaN has no long span to copy: pages were only given back after one, and the
    1.5 M-record file with 381 808 NaN stayed resident whole while copied (1 038 MB peak for its load).
    NaN every 512 KB between holes of a sparse file: quick to write, each page read still resident."""
    source = tmp_path / "s.json"
    with open(source, "wb") as handle:
        handle.write(b"[NaN")
        for k in range(1, 240):
            handle.seek(k << 19)
            handle.write(b",NaN")
        handle.write(b"]")
    Path("/proc/self/clear_refs").write_text("5")
    before = _peak_resident_mb()
    assert _jsonscan.sanitise(str(source), os.devnull) == 240
    assert _peak_resident_mb() - before < 80


def test_the_scan_does_not_keep_a_long_string_resident(tmp_path):
    """As the copy: the scan gives pages back inside a long string too (a hole in a sparse file)."""
    source = tmp_path / "s.json"
    with open(source, "wb") as handle:
        handle.write(b'{"marches": [{"id": "')
        handle.seek(120 << 20)
        handle.write(b'"}]}')
    Path("/proc/self/clear_refs").write_text("5")
    before = _peak_resident_mb()
    assert scan(source, []).reason == ""
    assert _peak_resident_mb() - before < 80


def test_the_nan_copy_lets_other_threads_run_while_it_opens_its_files(tmp_path):
    """open() of a pipe waits for its reader: the GIL held there, a reader thread of the same process
    never ran and the copy waited for ever (run in a child process, which a timeout can end)."""
    script = textwrap.dedent(f"""
        import os, threading, time
        from decp_monitor.parse import _jsonscan
        source, pipe = {str(tmp_path / "s.json")!r}, {str(tmp_path / "copy.fifo")!r}
        open(source, "wb").write(b"[NaN, 1]")
        os.mkfifo(pipe)
        read = []

        def drain():
            time.sleep(0.2)  # the copy is in open() by then
            with open(pipe, "rb") as reading:
                read.append(reading.read())

        thread = threading.Thread(target=drain)
        thread.start()
        print(_jsonscan.sanitise(source, pipe), thread.join() or read)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=10,
                          env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert done.stdout.split() == ["1", "[b'[null,", "1]']"], done.stderr
