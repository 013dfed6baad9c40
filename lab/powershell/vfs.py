"""A small virtual file system mapping Windows paths onto a real folder.

``C:\\Users\\x\\a.txt`` lives under ``<root>/c/Users/x/a.txt`` and ``\\\\bk01\\LyncBackup\\set``
under ``<root>/unc/bk01/LyncBackup/set``, so the lab keeps file shares, backup sets and
temporary files in its state directory. Names compare case-insensitively like NTFS: an
existing entry is found whatever the case used in the script.
"""

from __future__ import annotations

import re
from pathlib import Path

_DRIVE = re.compile(r"^([A-Za-z]):(?:[\\/]|$)")


class VFSError(Exception):
    """A path is malformed or outside the mapped namespace."""


class AccessDenied(VFSError):
    """The path exists for others, but this logon may not reach it (a second hop,
    :mod:`lab.identity`): .NET's UnauthorizedAccessException."""


def walk_case_insensitive(root: Path, segments: list[str], original: str) -> Path:
    """``root`` joined with ``segments``, matching existing entries case-insensitively as
    Windows does; ``original`` names the path in the error for a segment that is not valid."""
    current = root
    for part in segments:
        if part in ("", ".", "..") or "/" in part or "\x00" in part:
            raise VFSError(f"The path '{original}' is not valid.")
        candidate = current / part
        if not candidate.exists() and current.is_dir():
            lowered = part.lower()
            for entry in current.iterdir():
                if entry.name.lower() == lowered:
                    candidate = entry
                    break
        current = candidate
    return current


class VirtualFS:
    """Windows paths -> a real directory tree under ``root``."""

    def __init__(self, root: Path | str, cwd: str = "C:\\Users\\Administrator") -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.cwd = cwd

    # -- path handling ----------------------------------------------------------------------

    @staticmethod
    def normalize(path: str) -> str:
        """Backslashes, no trailing separator, ``.``/``..`` resolved."""
        text = path.replace("/", "\\")
        unc = text.startswith("\\\\")
        prefix = ""
        body = text
        if unc:
            body = text[2:]
            prefix = "\\\\"
        else:
            match = _DRIVE.match(text)
            if match:
                prefix = match.group(1).upper() + ":\\"
                body = text[2:]
        parts: list[str] = []
        for part in body.split("\\"):
            if part in ("", "."):
                continue
            if part == "..":
                min_parts = 2 if unc else 0
                if len(parts) > min_parts:
                    parts.pop()
                continue
            parts.append(part)
        return prefix + "\\".join(parts)

    def absolute(self, path: str) -> str:
        text = path.replace("/", "\\")
        if text.startswith("\\\\") or _DRIVE.match(text):
            return self.normalize(text)
        if text.startswith("\\"):
            return self.normalize(self.cwd[:2] + text)
        return self.normalize(self.cwd + "\\" + text)

    def real(self, path: str) -> Path:
        """The real path for a Windows path (existing entries matched case-insensitively)."""
        full = self.absolute(path)
        if full.startswith("\\\\"):
            parts = ["unc", *full[2:].split("\\")]
            if len(parts) < 3:
                raise VFSError(f"The UNC path '{full}' has no share name.")
        else:
            match = _DRIVE.match(full)
            if not match:
                raise VFSError(f"The path '{path}' is not a Windows path.")
            parts = [match.group(1).lower(), *[p for p in full[3:].split("\\") if p]]
        return walk_case_insensitive(self.root, parts, path)

    def windows_path(self, real: Path) -> str:
        """The Windows path of a real path under the root."""
        rel = real.relative_to(self.root).parts
        if rel and rel[0] == "unc":
            return "\\\\" + "\\".join(rel[1:])
        if rel:
            return rel[0].upper() + ":\\" + "\\".join(rel[1:])
        raise VFSError("The root itself has no Windows path.")

    # -- operations -------------------------------------------------------------------------

    def exists(self, path: str) -> bool:
        try:
            return self.real(path).exists()
        except VFSError:
            return False

    def is_dir(self, path: str) -> bool:
        try:
            return self.real(path).is_dir()
        except VFSError:
            return False

    def read_bytes(self, path: str) -> bytes:
        return self.real(path).read_bytes()

    def write_bytes(self, path: str, data: bytes, append: bool = False) -> None:
        target = self.real(path)
        if not target.parent.is_dir():
            raise FileNotFoundError(path)
        with target.open("ab" if append else "wb") as handle:
            handle.write(data)

    def mkdir(self, path: str) -> None:
        self.real(path).mkdir(parents=True, exist_ok=True)

    def remove(self, path: str, recurse: bool = False) -> None:
        target = self.real(path)
        if target.is_dir():
            if any(target.iterdir()) and not recurse:
                raise OSError(f"The directory '{path}' is not empty.")
            import shutil

            shutil.rmtree(target)
        else:
            target.unlink()

    def list_dir(self, path: str) -> list[Path]:
        return sorted(self.real(path).iterdir(), key=lambda p: p.name.lower())
