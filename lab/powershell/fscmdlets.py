"""File-system cmdlets of the lab's PowerShell, on the host's :class:`VirtualFS`.

Join-Path, Test-Path, Get-Item, Get-Content, Set-Content, Add-Content, Remove-Item, Get-ChildItem
and New-Item, with Windows PowerShell 5.1's defaults that scripts notice: Set-Content and
Add-Content end lines with CRLF and write ANSI unless told otherwise, UTF8 gets a BOM,
Get-Content -Raw is one string, a missing path is "Cannot find path '...' because it does not
exist." (ItemNotFoundException).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from stat import S_ISDIR
from typing import Any

from lab.powershell.binding import Invocation, ParamSpec
from lab.powershell.operators import binary
from lab.powershell.records import ErrorRecord, PSRuntimeError
from lab.powershell.values import (
    PSObject,
    enumerate_value,
    is_enumerable,
    to_string,
)
from lab.powershell.vfs import AccessDenied, VFSError

P = ParamSpec


def _paths(inv: Invocation) -> list[str]:
    value = inv.get("LiteralPath") if inv.bound("LiteralPath") else inv.get("Path")
    return list(value or [])


def _not_found(inv: Invocation, path: str) -> ErrorRecord:
    return ErrorRecord(
        f"Cannot find path '{path}' because it does not exist.",
        "ObjectNotFound",
        "PathNotFound",
        target=path,
        exception="ItemNotFoundException",
        activity=inv.name,
        command=inv.name,
        qualifier=inv.spec.error_qualifier,
    )


def _fs_error(inv: Invocation, path: str, message: str, exception: str) -> ErrorRecord:
    return ErrorRecord(
        message, "ObjectNotFound", "GetContentWriterDirectoryNotFoundError", target=path,
        exception=exception, activity=inv.name, command=inv.name,
        qualifier=inv.spec.error_qualifier,
    )


# -- files --------------------------------------------------------------------------------------


def _join(parent: str, child: str) -> str:
    if not parent:
        return child
    return parent.rstrip("\\/") + "\\" + child.lstrip("\\/")


def join_path(inv: Invocation) -> Iterable[Any]:
    child = inv.get("ChildPath") or ""
    return [_join(parent, child) for parent in inv.get("Path") or []]


def test_path(inv: Invocation) -> Iterable[Any]:
    kind = (inv.get("PathType") or "Any").lower()
    results = []
    for path in _paths(inv):
        fs = inv.session.fs
        if kind == "container":
            results.append(fs.is_dir(path))
        elif kind == "leaf":
            results.append(fs.exists(path) and not fs.is_dir(path))
        else:
            results.append(fs.exists(path))
    return results


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith(b"\xff\xfe"):
        return data[2:].decode("utf-16-le", errors="replace")
    if data.startswith(b"\xfe\xff"):
        return data[2:].decode("utf-16-be", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def get_content(inv: Invocation) -> Iterator[Any]:
    fs = inv.session.fs
    for path in _paths(inv):
        if not fs.exists(path) or fs.is_dir(path):
            inv.session.write_error(_not_found(inv, path), inv.common.get("ErrorAction"))
            continue
        text = _decode(fs.read_bytes(path))
        if inv.get("Raw"):
            yield text
            continue
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        yield from lines


_ENCODINGS = {
    "ascii": ("ascii", b""), "utf8": ("utf-8", b"\xef\xbb\xbf"),
    "unicode": ("utf-16-le", b"\xff\xfe"), "bigendianunicode": ("utf-16-be", b"\xfe\xff"),
    "utf32": ("utf-32-le", b"\xff\xfe\x00\x00"), "default": ("cp1252", b""),
    "oem": ("cp437", b""), "string": ("utf-16-le", b"\xff\xfe"), "unknown": ("utf-16-le", b""),
    "utf7": ("utf-7", b""), "byte": ("latin-1", b""),
}
ENCODING_NAMES = ("ASCII", "UTF8", "Unicode", "BigEndianUnicode", "UTF32", "Default", "OEM",
                  "String", "Unknown", "UTF7", "Byte")


def _write_content(inv: Invocation, append: bool) -> None:
    values = inv.get("Value") if inv.bound("Value") else list(inv.input)
    items = enumerate_value(values) if is_enumerable(values) else [values]
    if inv.get("NoNewline"):
        text = "".join(to_string(item) for item in items)
    else:
        text = "".join(to_string(item) + "\r\n" for item in items)
    codec, bom = _ENCODINGS[(inv.get("Encoding") or "Default").lower()]
    fs = inv.session.fs
    for path in _paths(inv):
        try:
            exists = fs.exists(path)
            data = text.encode(codec, errors="replace")
            fs.write_bytes(path, data if append and exists else bom + data, append=append)
        except (FileNotFoundError, VFSError, NotADirectoryError):
            raise PSRuntimeError(
                _fs_error(inv, path, f"Could not find a part of the path '{path}'.",
                          "DirectoryNotFoundException")
            ) from None


def set_content(inv: Invocation) -> None:
    _write_content(inv, append=False)


def add_content(inv: Invocation) -> None:
    _write_content(inv, append=True)


def remove_item(inv: Invocation) -> None:
    fs = inv.session.fs
    for path in _paths(inv):
        if not fs.exists(path):
            inv.session.write_error(_not_found(inv, path), inv.common.get("ErrorAction"))
            continue
        try:
            fs.remove(path, recurse=bool(inv.get("Recurse")))
        except OSError as exc:
            inv.write_error(str(exc), "WriteError", "RemoveItemIOError", target=path,
                            exception="IOException")


def _item(fs_path: Any, windows_path: str) -> PSObject:
    stat = fs_path.stat()
    is_dir = S_ISDIR(stat.st_mode)
    return PSObject(
        [
            ("Name", fs_path.name),
            ("FullName", windows_path),
            ("Length", None if is_dir else stat.st_size),
            ("LastWriteTime", datetime.fromtimestamp(stat.st_mtime)),
            ("Mode", "d-----" if is_dir else "-a----"),
            ("PSIsContainer", is_dir),
        ],
        type_name="System.IO.DirectoryInfo" if is_dir else "System.IO.FileInfo",
        text=fs_path.name,
    )


def _denied(inv: Invocation, path: str) -> bool:
    """Write Windows' "Access is denied" for a path this logon may not reach (another host's
    share without delegated credentials, lab/identity.py) and say so."""
    try:
        inv.session.fs.real(path)
    except AccessDenied:
        inv.session.write_error(ErrorRecord(
            "Access is denied", "PermissionDenied", "ItemExistsUnauthorizedAccessError",
            target=path, exception="UnauthorizedAccessException", activity=inv.name,
            command=inv.name, qualifier=inv.spec.error_qualifier), inv.common.get("ErrorAction"))
        return True
    except VFSError:
        pass
    return False


def get_item(inv: Invocation) -> Iterator[Any]:
    """Get-Item: the file or folder itself; a missing path is ItemNotFoundException."""
    fs = inv.session.fs
    for path in _paths(inv):
        if _denied(inv, path):
            continue
        if not fs.exists(path):
            inv.session.write_error(_not_found(inv, path), inv.common.get("ErrorAction"))
            continue
        yield _item(fs.real(path), fs.absolute(path))


def get_child_item(inv: Invocation) -> Iterator[Any]:
    fs = inv.session.fs
    paths = _paths(inv) or [fs.cwd]
    pattern = inv.get("Filter")
    for path in paths:
        if _denied(inv, path):
            continue
        if not fs.exists(path):
            inv.session.write_error(_not_found(inv, path), inv.common.get("ErrorAction"))
            continue
        if not fs.is_dir(path):
            yield _item(fs.real(path), fs.absolute(path))
            continue
        # each folder is resolved once: a subfolder's real path is the entry itself
        stack = [(fs.absolute(path), fs.real(path))]
        while stack:
            current, real = stack.pop(0)
            for entry in sorted(real.iterdir(), key=lambda p: p.name.lower()):
                full = _join(current, entry.name)
                if entry.is_dir() and inv.get("Recurse"):
                    stack.append((full, entry))
                if pattern and not binary("like", entry.name, pattern):
                    continue
                if inv.get("File") and entry.is_dir():
                    continue
                if inv.get("Directory") and not entry.is_dir():
                    continue
                yield entry.name if inv.get("Name") else _item(entry, full)


def new_item(inv: Invocation) -> Iterable[Any]:
    fs = inv.session.fs
    out = []
    for path in inv.get("Path") or []:
        full = _join(path, inv.get("Name")) if inv.get("Name") else path
        if fs.exists(full) and not inv.get("Force"):
            raise inv.error(
                f"An item with the specified name {fs.absolute(full)} already exists.",
                "ResourceExists",
                "DirectoryExist" if (inv.get("ItemType") or "").lower() == "directory"
                else "NewItemIOError",
                target=full,
                exception="IOException",
            )
        if (inv.get("ItemType") or "file").lower() == "directory":
            fs.mkdir(full)
        else:
            fs.write_bytes(full, to_string(inv.get("Value") or "").encode("cp1252", "replace"))
        out.append(_item(fs.real(full), fs.absolute(full)))
    return out


_HASHES = {"SHA1": "sha1", "SHA256": "sha256", "SHA384": "sha384", "SHA512": "sha512", "MD5": "md5"}


def get_file_hash(inv: Invocation) -> Iterator[Any]:
    """Get-FileHash (PowerShell 4.0+): Algorithm, Hash (upper-case hex), Path."""
    import hashlib

    fs = inv.session.fs
    algorithm = (inv.get("Algorithm") or "SHA256").upper()
    for path in _paths(inv):
        if not fs.exists(path) or fs.is_dir(path):
            inv.session.write_error(_not_found(inv, path), inv.common.get("ErrorAction"))
            continue
        h = hashlib.new(_HASHES[algorithm])
        with fs.real(path).open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        yield PSObject([("Algorithm", algorithm), ("Hash", h.hexdigest().upper()),
                        ("Path", fs.absolute(path))], type_name="Microsoft.Powershell.Utility.FileHash")


PATH_PARAMS = (
    P("Path", "string[]", position=0, set="Path", pipeline="property"),
    P("LiteralPath", "string[]", set="LiteralPath", aliases=("PSPath",), pipeline="property"),
)
