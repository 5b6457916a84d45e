"""Native windows on the candidate's X display: find them, act on them as a person would, photograph them.

Playwright talks to the page over CDP, and CDP shortcuts skip the browser's own gates: ``set_input_files``
and the ``filechooser`` event upload a file even when ``AllowFileSelectionDialogs`` is false, and
``page.pdf()`` prints even when ``PrintingEnabled`` is false. The only fair way to test those gates is the
way a person uses them: real X input (XTEST, through ``xdotool``) into the candidate's windows, and the
native dialogs it opens (the GTK file chooser, the print preview). This module does that and nothing
else; it decides nothing.

Every window it finds is on the candidate's own display (the suite's private Xvfb), so "a new window"
there can only be the candidate's. A missing ``xdotool`` or an unreachable display is a ``HarnessError``:
"no dialog appeared" is only ever said by a desktop that could have seen one.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
import struct
import subprocess
import time
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from conformance import waits
from conformance.environment.procs import require_tool
from conformance.errors import HarnessError

# Whole titles of the file choosers Chromium opens through GTK, in English and Japanese. Anchored, so a
# page title such as "upload probe - Chromium" never counts as a dialog.
FILE_DIALOG_TITLES = re.compile(r"^(Open Files?|Select Files?|File Upload|ファイルを開く|ファイルの選択|開く)$", re.I)
SAVE_DIALOG_TITLES = re.compile(r"^(Save File|Save As|名前を付けて保存|ファイルを保存|保存)$", re.I)
# GTK 3's file chooser puts its action button ("Open" / "Save") in the bottom-right corner of the
# dialog; the spike measured (width - 45, height - 24) on this machine's Xvfb.
GTK_ACTION_BUTTON = (45, 24)


@dataclass(frozen=True)
class XWindow:
    """One mapped top-level (or override-redirect) window: id, title and geometry on the root."""

    wid: int
    name: str
    x: int
    y: int
    width: int
    height: int
    pid: int | None = None

    def summary(self) -> dict[str, object]:
        return {"wid": self.wid, "name": self.name, "geometry": [self.x, self.y, self.width, self.height],
                "pid": self.pid}


class Desktop:
    """The X display in ``display_env`` (``Display.env``) as seen and driven through ``xdotool``."""

    def __init__(self, display_env: Mapping[str, str] | None, *, timeout: float = 10.0) -> None:
        if not display_env or not display_env.get("DISPLAY"):
            raise HarnessError("Xvfb", "native dialogs need the candidate's X display; do not run headless")
        self.env: dict[str, str] = {**os.environ, **display_env}
        self.display = self.env["DISPLAY"]
        self.timeout = timeout
        self.xdotool = require_tool("xdotool", "xdotool", self.env)
        self.run(["getdisplaygeometry"])  # the display must answer before any "nothing appeared"

    # -- plumbing ----------------------------------------------------------------------------------
    def run(self, args: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        """One ``xdotool`` command on this display: the suite's only way of synthesising OS input."""
        argv = [self.xdotool, *args]
        try:
            result = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=self.timeout,
                                    check=False)
        except subprocess.TimeoutExpired as exc:
            raise HarnessError("xdotool", f"{' '.join(argv)} timed out after {self.timeout}s") from exc
        except OSError as exc:
            raise HarnessError("xdotool", f"cannot run xdotool: {exc}") from exc
        if check and result.returncode != 0:
            raise HarnessError("xdotool", f"{' '.join(argv)} failed rc={result.returncode}: "
                                          f"{result.stderr.strip()[:300]}")
        return result

    # -- seeing ------------------------------------------------------------------------------------
    def window_ids(self, name: str = ".*") -> list[int]:
        """Ids of the visible windows whose title matches the regular expression ``name``."""
        result = self.run(["search", "--onlyvisible", "--name", name], check=False)
        if result.returncode not in (0, 1):  # 1 = nothing matched
            raise HarnessError("xdotool", f"search failed rc={result.returncode}: {result.stderr.strip()[:300]}")
        return [int(line) for line in result.stdout.split() if line.isdigit()]

    def window(self, wid: int) -> XWindow | None:
        """Title and geometry of ``wid``; None when it vanished meanwhile."""
        geometry = self.run(["getwindowgeometry", "--shell", str(wid)], check=False)
        if geometry.returncode != 0:
            return None
        values = dict(line.split("=", 1) for line in geometry.stdout.splitlines() if "=" in line)
        name = self.run(["getwindowname", str(wid)], check=False)
        pid = self.run(["getwindowpid", str(wid)], check=False)
        try:
            return XWindow(
                wid=wid,
                name=name.stdout.strip() if name.returncode == 0 else "",
                x=int(values["X"]),
                y=int(values["Y"]),
                width=int(values["WIDTH"]),
                height=int(values["HEIGHT"]),
                pid=int(pid.stdout.strip()) if pid.returncode == 0 and pid.stdout.strip().isdigit() else None,
            )
        except (KeyError, ValueError):
            return None

    def windows(self, name: str = ".*", *, min_size: int = 50) -> list[XWindow]:
        """Visible, named windows at least ``min_size`` pixels wide and high (menus and tooltips are not)."""
        found = [w for wid in self.window_ids(name) if (w := self.window(wid)) is not None]
        return [w for w in found if w.name and w.width >= min_size and w.height >= min_size]

    def wait_for_window(
        self, title: re.Pattern[str] | str, timeout: float, *, exclude: Iterable[int] = ()
    ) -> XWindow | None:
        """The first visible window (not in ``exclude``) whose title matches, or None after ``timeout``."""
        pattern = re.compile(title) if isinstance(title, str) else title
        skip = set(exclude)

        def matching() -> XWindow | None:
            return next((w for w in self.windows() if w.wid not in skip and pattern.search(w.name)), None)

        return waits.until(matching, timeout, interval=0.2)

    def wait_until_gone(self, win: XWindow, timeout: float) -> bool:
        """True once ``win`` is no longer mapped (closed or hidden), False at ``timeout``."""
        return waits.until(lambda: win.wid not in self.window_ids(), timeout, interval=0.2)

    def pids_windows(self, pid: int) -> list[int]:
        """Visible top-level windows whose ``_NET_WM_PID`` is ``pid``."""
        result = self.run(["search", "--onlyvisible", "--pid", str(pid)], check=False)
        return [int(line) for line in result.stdout.split() if line.isdigit()]

    def visible_window_ids(self) -> set[int]:
        """Every visible window, named or not (menus and popups included)."""
        return set(self.window_ids(""))

    # -- acting ------------------------------------------------------------------------------------
    def focus(self, win: XWindow) -> None:
        # No window manager on Xvfb: set the X input focus directly (XSetInputFocus) and raise it.
        self.run(["windowraise", str(win.wid)], check=False)
        self.run(["windowfocus", "--sync", str(win.wid)])

    def key(self, win: XWindow, *keys: str) -> None:
        """Press key combinations (``"ctrl+p"``, ``"Return"``) with real X input into ``win``."""
        self.focus(win)
        self.run(["key", "--clearmodifiers", "--delay", "80", *keys])

    def type_text(self, win: XWindow, text: str) -> None:
        self.focus(win)
        self.run(["type", "--clearmodifiers", "--delay", "40", text])

    def move_pointer(self, x: float, y: float) -> None:
        """Move the real pointer to screen (x, y) and wait until the server has moved it."""
        self.run(["mousemove", "--sync", str(round(x)), str(round(y))])

    def press_keys(self, *keys: str) -> None:
        """Key combinations to whatever has the focus; with no window manager that is the window under the
        pointer, so place the pointer first (``move_pointer``) or use ``key``."""
        self.run(["key", "--clearmodifiers", "--delay", "80", *keys])

    def button(self, action: str, button: int = 1) -> None:
        """``mousedown`` / ``mouseup`` / ``click`` of ``button`` where the pointer is."""
        self.run([action, str(button)])

    def drag(self, start: tuple[int, int], end: tuple[int, int], steps: int = 24) -> None:
        """Press, move in small steps (past every drag threshold), release: a person's drag on the screen."""
        self.move_pointer(*start)
        waits.pause(0.2)  # the source sees the pointer arrive before the press
        self.button("mousedown")
        try:
            waits.pause(0.3)  # a press held still first: toolkits start a drag only after it
            for i in range(1, steps + 1):
                self.move_pointer(start[0] + (end[0] - start[0]) * i / steps,
                                  start[1] + (end[1] - start[1]) * i / steps)
                waits.pause(0.04)
            waits.pause(0.5)  # the drop target answers the last position before the release
        finally:
            self.button("mouseup")

    def click(self, win: XWindow, x: int, y: int) -> None:
        """Left click at (x, y) relative to ``win``'s top-left corner."""
        self.focus(win)
        # One xdotool run: the motion and the click go down one X connection, in order. No --sync: it
        # waits for a motion that never comes when the pointer is already there.
        self.run(["mousemove", str(win.x + x), str(win.y + y), "click", "1"])

    def press_action_button(self, dialog: XWindow) -> None:
        """Click a GTK file chooser's action button ("Open" / "Save"), bottom right of the dialog."""
        dx, dy = GTK_ACTION_BUTTON
        self.click(dialog, dialog.width - dx, dialog.height - dy)

    def pick_file(self, dialog: XWindow, path: Path) -> None:
        """Choose ``path`` in a GTK file chooser as a person does: type it, then press "Open"."""
        # A leading "/" opens GTK's location entry; Return there did not pick the file (spike 3e),
        # the "Open" button did.
        self.type_text(dialog, str(path))
        waits.pause(0.5)  # GTK completes the path in the entry asynchronously; no event tells when
        self.press_action_button(dialog)

    # -- evidence and timing ----------------------------------------------------------------------
    def screenshot(self, path: Path) -> Path:
        """The whole display as a PNG (a page screenshot cannot show the browser's or the OS's dialogs)."""
        width, height, stride, raw = _grab_root(self.display)
        path.write_bytes(_png(width, height, stride, raw))
        return path

    def wait_until_still(self, timeout: float, quiet: float = 1.5, interval: float = 0.25) -> bool:
        """Wait until nothing on the display changed for ``quiet`` seconds (a dialog finished drawing and
        loading); False at ``timeout``. There is no event for "the print preview is ready"."""
        state = {"last": zlib.crc32(_grab_root(self.display)[3]), "since": time.monotonic()}

        def still() -> bool:
            current = zlib.crc32(_grab_root(self.display)[3])
            if current != state["last"]:
                state["last"], state["since"] = current, time.monotonic()
                return False
            return time.monotonic() - state["since"] >= quiet

        return waits.until(still, timeout, interval=interval)


# -- a screenshot without extra packages: XGetImage through ctypes, PNG through zlib ----------------
class _XImage(ctypes.Structure):
    _fields_ = [
        ("width", ctypes.c_int), ("height", ctypes.c_int), ("xoffset", ctypes.c_int), ("format", ctypes.c_int),
        ("data", ctypes.POINTER(ctypes.c_ubyte)), ("byte_order", ctypes.c_int), ("bitmap_unit", ctypes.c_int),
        ("bitmap_bit_order", ctypes.c_int), ("bitmap_pad", ctypes.c_int), ("depth", ctypes.c_int),
        ("bytes_per_line", ctypes.c_int), ("bits_per_pixel", ctypes.c_int), ("red_mask", ctypes.c_ulong),
        ("green_mask", ctypes.c_ulong), ("blue_mask", ctypes.c_ulong),
    ]


_X_ERROR_HANDLER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
_x_errors: list[int] = []


@_X_ERROR_HANDLER
def _on_x_error(_display: int, _event: int) -> int:
    _x_errors.append(1)  # Xlib's default handler would exit the whole test process
    return 0


def _libx11() -> ctypes.CDLL:
    name = ctypes.util.find_library("X11")
    if name is None:
        raise HarnessError("Xvfb", "libX11 not found: cannot take a screenshot of the display")
    lib = ctypes.CDLL(name)
    lib.XOpenDisplay.restype = ctypes.c_void_p
    lib.XOpenDisplay.argtypes = [ctypes.c_char_p]
    lib.XDefaultRootWindow.restype = ctypes.c_ulong
    lib.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
    lib.XDefaultScreen.argtypes = [ctypes.c_void_p]
    lib.XDisplayWidth.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.XDisplayHeight.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.XGetImage.restype = ctypes.POINTER(_XImage)
    lib.XGetImage.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_int, ctypes.c_uint,
                              ctypes.c_uint, ctypes.c_ulong, ctypes.c_int]
    lib.XDestroyImage.argtypes = [ctypes.POINTER(_XImage)]
    lib.XCloseDisplay.argtypes = [ctypes.c_void_p]
    lib.XSetErrorHandler.argtypes = [_X_ERROR_HANDLER]
    lib.XSetErrorHandler.restype = ctypes.c_void_p
    return lib


def _grab_root(display: str) -> tuple[int, int, int, bytes]:
    """(width, height, bytes per line, BGRX pixels) of the root window of ``display``."""
    lib = _libx11()
    lib.XSetErrorHandler(_on_x_error)
    handle = lib.XOpenDisplay(display.encode())
    if not handle:
        raise HarnessError("Xvfb", f"cannot open display {display} for a screenshot")
    try:
        screen = lib.XDefaultScreen(handle)
        width, height = lib.XDisplayWidth(handle, screen), lib.XDisplayHeight(handle, screen)
        image = lib.XGetImage(handle, lib.XDefaultRootWindow(handle), 0, 0, width, height, 0xFFFFFFFF, 2)
        if not image:
            raise HarnessError("Xvfb", f"XGetImage failed on {display}")
        try:
            img = image.contents
            if img.bits_per_pixel != 32:
                raise HarnessError("Xvfb", f"unsupported screenshot format: {img.bits_per_pixel} bits per pixel")
            return width, height, img.bytes_per_line, ctypes.string_at(img.data, img.bytes_per_line * height)
        finally:
            lib.XDestroyImage(image)
    finally:
        lib.XCloseDisplay(handle)


def _png(width: int, height: int, stride: int, raw: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = bytearray()
    for y in range(height):
        line = raw[y * stride : y * stride + width * 4]
        rgb = bytearray(width * 3)  # BGRX (little-endian TrueColor) -> RGB
        rgb[0::3], rgb[1::3], rgb[2::3] = line[2::4], line[1::4], line[0::4]
        rows += b"\x00" + rgb
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(rows), 6))
            + chunk(b"IEND", b""))
