"""The one way key material reaches the disk: whole JSON files, mode 0600, swapped in atomically; and the
one way it is read back, every failure a ConfigError naming the file and what to do (中文 first).

A reader never sees a half-written file: the body goes to a temporary file in the same folder (created
0600, so it is never readable by others, not even for a moment), then replaces the target in one rename.
Folders are created 0700.
"""

from __future__ import annotations

import base64
import errno
import fcntl
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from lianban.errors import ConfigError

T = TypeVar("T")

__all__ = ["changing", "malformed", "read_key_json", "write_private_json"]

_UNREADABLE = {PermissionError: ("没有读取权限", "permission denied"),
               IsADirectoryError: ("这是目录而不是文件", "it is a folder"),
               NotADirectoryError: ("上级路径不是目录", "a parent is not a folder")}


def malformed(path: Path, zh: str, en: str) -> ConfigError:
    """The error for a key file that reads but is not what it should be (`zh` / `en`: what is wrong)."""
    return ConfigError(f"密钥文件格式错误：{path}，{zh}；"
                       f"请从备份恢复该文件（他方公钥可用 lianban keys import 重新导入）(malformed key file {path}: "
                       f"{en}; restore it from a backup, or import another party's public keys again)")


def decoded(path: Path, read: Callable[[], T], shape: tuple[str, str]) -> T:
    """``read()`` over a key file's JSON body; its KeyError/TypeError becomes "not this shape" (`shape`: the
    Chinese and English sentence) and a ValueError (bad base64) "not valid base64", both naming `path`."""
    try:
        return read()
    except (KeyError, TypeError, AttributeError):
        raise malformed(path, *shape) from None
    except ValueError:  # binascii.Error, or a key that is not ASCII
        raise malformed(path, "其中的密钥不是合法的 base64", "a key is not valid base64") from None


def b64(text: Any) -> bytes:
    """Strict base64 (a stray character is an error, not silently dropped)."""
    return base64.b64decode(text, validate=True)


def read_key_json(path: Path) -> Any:
    """The JSON body of key file `path`; ConfigError when it is missing, unreadable or not JSON."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _missing(path) from None
    except OSError as exc:
        zh, en = _UNREADABLE.get(type(exc), (type(exc).__name__, type(exc).__name__))
        raise ConfigError(f"密钥文件无法读取：{path}（{zh}）；请检查该路径及其权限 "
                          f"(cannot read key file {path}: {en}; check the path and its permissions)") from None
    except UnicodeDecodeError:
        raise malformed(path, "不是 UTF-8 文本", "not UTF-8 text") from None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise malformed(path, "不是合法的 JSON", "not valid JSON") from None


def _missing(path: Path) -> ConfigError:
    return ConfigError(f"密钥文件不存在：{path}；请运行 lianban keys init 创建，"
                       f"或用 lianban keys import 导入对方的公钥 (key file not found: {path}; run `lianban keys "
                       f"init`, or `lianban keys import` for another party's public keys)")


@contextmanager
def changing(path: Path, *, existing: bool = False) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``<path minus .json>.lock`` while key file `path` is read, changed and
    written back: two runs changing one file (two ``keys rotate``, a rotate and a retire) take turns, and neither
    writes back a copy without the key the other has just added. With `existing` (a change to a file that must be
    there: rotate, activate, retire), a missing file is refused before the folder or the lock file is made, so a
    command that fails for it leaves the home as it was."""
    if existing and not path.exists():
        raise _missing(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def write_private_json(path: Path, body: Any) -> None:
    """Write `body` as JSON to `path` (mode 0600), atomically."""
    write_private_text(path, json.dumps(body))


def write_private_text(path: Path, text: str, replace: bool = True) -> None:
    """Write `text` to `path` (mode 0600, its folder 0700 when created), atomically and durably: the body is on
    disk before it replaces the old file, and the rename before this returns. Each writer has a temporary file
    of its own (two writers of one file never write into, or rename away, each other's). With `replace` False,
    never over a file at `path` (FileExistsError, nothing written): the whole body is linked into place."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # created 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            _place_new(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)


def _place_new(tmp: str, path: Path) -> None:
    """The written file `tmp` put at `path` where there is none (FileExistsError, however it got there since a
    caller looked): linked into place; on a file system without hard links (some network shares), renamed into
    place once `path` is found missing (a moment's race left: the best such a file system allows)."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOSYS, errno.EMLINK):
            raise
        if path.exists():
            raise FileExistsError(errno.EEXIST, "file exists, not replaced", str(path)) from None
        os.replace(tmp, path)
        return
    os.unlink(tmp)


def _sync_folder(folder: Path) -> None:
    """Flush `folder`'s entries (a rename in it) to disk."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
