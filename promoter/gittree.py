"""Write a new git tree that differs from an old one in a few files, touching only their paths.

Reading 5,000 entries into an index and writing them all back costs tens of milliseconds per
promotion; rewriting only the trees on the changed paths costs a few object reads and writes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from promoter.errors import ConfigError
from promoter.kept import Kept

TREE_MODE = b"40000"
ReadObject = Callable[[bytes], bytes]
StoreObject = Callable[[bytes, bytes], bytes]
Entries = dict[bytes, tuple[bytes, bytes]]  # name -> (mode, binary id)


def rewrite_tree(
    tree: bytes | None,
    blobs: Mapping[str, tuple[bytes, bytes]],
    *,
    read: ReadObject,
    store: StoreObject,
) -> bytes:
    """The id of `tree` with `blobs` (path -> (octal mode, blob id)) written in."""
    entries, in_order = _entries(tree, read)
    nested: dict[bytes, dict[str, tuple[bytes, bytes]]] = {}
    for path, blob in blobs.items():
        head, sep, rest = path.partition("/")
        name = head.encode("utf-8", "surrogateescape")
        if sep:
            nested.setdefault(name, {})[rest] = blob
        else:
            in_order = in_order and _same_place(entries.get(name), blob[0])
            entries[name] = blob
    for name, inner in nested.items():
        mode, sha = entries.get(name, (TREE_MODE, b""))
        if mode != TREE_MODE:
            raise ConfigError(f"cannot write {name.decode(errors='replace')}/...: it is a file")
        subtree = rewrite_tree(sha or None, inner, read=read, store=store)
        in_order = in_order and name in entries
        entries[name] = (TREE_MODE, subtree)
    if not in_order:
        entries = _in_git_order(entries)
    written = store(b"tree", _format(entries))
    _remember(written, entries)
    return written


# The trees this process wrote last, by id. The next promotion most often starts from them, and
# parsing a folder of thousands of entries again costs milliseconds. An id names its content, so
# a remembered tree is never stale; only large trees are kept, and only a few.
_WRITTEN: Kept[bytes, Entries] = Kept(16)
_LARGE = 256


def _entries(tree: bytes | None, read: ReadObject) -> tuple[Entries, bool]:
    """The tree's entries, and whether they are known to be in git's order already."""
    if tree is None:
        return {}, False
    known = _WRITTEN.get(tree)
    if known is not None:
        return dict(known), True
    return parse_tree(read(tree)), False


def _remember(tree: bytes, entries: Entries) -> None:
    if len(entries) >= _LARGE:
        _WRITTEN.put(tree, entries)


def _same_place(old: tuple[bytes, bytes] | None, mode: bytes) -> bool:
    """True when writing `mode` over `old` keeps the entry's place in git's order."""
    return old is not None and (old[0] == TREE_MODE) == (mode == TREE_MODE)


def parse_tree(data: bytes) -> Entries:
    """Entries of a raw tree object: `<mode> <name>\\0<20-byte id>` repeated."""
    entries: Entries = {}
    at = 0
    while at < len(data):
        space = data.index(b" ", at)
        nul = data.index(b"\0", space)
        entries[data[space + 1 : nul]] = (data[at:space], data[nul + 1 : nul + 21])
        at = nul + 21
    return entries


def format_tree(entries: Entries) -> bytes:
    """A raw tree object, in git's order (a folder sorts as if its name ended with '/')."""
    return _format(_in_git_order(entries))


def _in_git_order(entries: Entries) -> Entries:
    def key(name: bytes) -> bytes:
        return name + b"/" if entries[name][0] == TREE_MODE else name

    return {name: entries[name] for name in sorted(entries, key=key)}


def _format(entries: Entries) -> bytes:
    """A raw tree object with the entries in the order given."""
    return b"".join(mode + b" " + name + b"\0" + sha for name, (mode, sha) in entries.items())
