"""Reading the user's input files: every problem is one line that names the file.

Case files, sweep files, experiment files and CSV tables all come through :func:`read_text`, so
a missing file, a folder, a file without read permission, an empty path or text that is not
UTF-8 give the same kind of message everywhere. A UTF-8 byte-order mark (written by some Windows
editors) is accepted and dropped.
"""

from __future__ import annotations

import os
from pathlib import Path

from contour_fem.core.errors import InputError


def read_bytes(path: str | os.PathLike, what: str = "input file") -> bytes:
    """The bytes of ``path``.

    Args:
        path: The file.
        what: What the file is, for the message (``case file``, ``sweep file``…).

    Raises:
        InputError: Naming ``what`` and the path, for every way the file cannot be read.

    """
    if path is None or str(path).strip() == "":
        raise InputError(f"{what}: the path is empty")
    file = Path(path)
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{what} not found: {file}") from None
    except IsADirectoryError:
        raise InputError(f"{what} {file} is a folder, not a file") from None
    except PermissionError:
        raise InputError(f"{what} {file}: permission denied") from None
    except OSError as exc:
        raise InputError(f"{what} {file}: cannot be read ({exc.strerror or exc})") from None
    return data


def read_text(path: str | os.PathLike, what: str = "input file") -> str:
    """The text of ``path`` (UTF-8, BOM dropped).

    Raises:
        InputError: Naming ``what`` and the path, for every way the file cannot be read or
            decoded.

    """
    data = read_bytes(path, what)
    file = Path(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{what} {file} is not UTF-8 text (byte {exc.start}); save it as "
                         "UTF-8") from None
    return text.removeprefix("\ufeff")
