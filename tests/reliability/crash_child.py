"""A build to kill: `python tests/reliability/crash_child.py DATA_DIR FILES_DIR [--replace]`.

Prints each stage's name as it starts (and "swap" inside the pointer swap, "published" at the
end), flushed, so that the parent can send SIGKILL at a chosen point of the build.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from decp_monitor.pipeline import build_version
from decp_monitor.pipeline.files import load_paths
from decp_monitor.store import versions


def say(what: str) -> None:
    print(what, flush=True)


def main() -> int:
    data_dir, files = sys.argv[1], sys.argv[2]
    store = versions.Store(data_dir)
    publish = store._publish
    prune = store.prune

    def announced_publish(*args, **kwargs):
        say("swap")
        return publish(*args, **kwargs)

    def announced_prune(*args, **kwargs):
        say("prune")
        return prune(*args, **kwargs)

    store._publish = announced_publish
    store.prune = announced_prune
    with build_version(store, "load", source=files, carry_over="--replace" not in sys.argv,
                       replace_sources=(), on_stage=say) as build:
        load_paths(build, [files])
    say("published")
    return 0


if __name__ == "__main__":
    sys.exit(main())
