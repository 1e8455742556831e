"""The signed ``scene`` a breakfast point's QR code carries, and its images.

Scene format (at most 32 characters, all in WeChat's ``getUnlimited`` set)::

    b1.<point id, base36>.<key version, base36>.<signature>

``signature`` is HMAC-SHA256 over ``b1.<point>.<version>`` and the point's
``qr_generation``, keyed by a key derived from ``QR_KEY``, truncated to 96
bits and written as 16 base64url characters.  The generation is signed but
not written in the scene, so a point's codes can be invalidated one point at
a time (``rotate``) without making the scene longer.  The same string works
as a plain QR code and as a mini-program code (``wxacode.getUnlimited``).

Key rotation (decided): only scenes signed with the *current* key version
(``QR_KEY_VERSION``) are accepted.  Rotating ``QR_KEY`` therefore invalidates
every printed code, and staff reprint the posters from
``GET /admin/breakfast/points/{id}/qr``.  Keys of retired versions, listed in
``QR_OLD_KEYS`` (``"1:key,2:key"``), are used only to tell a retired code
from a forged one, so that the worker reads "this code has been replaced"
instead of "invalid code"; both are 422 ``qr_invalid``.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import io
import re
from dataclasses import dataclass
from xml.sax.saxutils import escape

import segno
from flask import current_app

from service.common.schemas import MAX_ID

PREFIX = "b1"
WXACODE_PAGE = "pages/breakfast/checkin"  # the mini-program page a point's code opens
SIG_BYTES = 12  # 96 bits: 16 base64url characters, no padding
MAX_SCENE = 32
MAX_GENERATIONS_CHECKED = 64
SCENE_RE = re.compile(r"^b1\.([0-9a-z]{1,8})\.([0-9a-z]{1,3})\.([A-Za-z0-9_-]{16})$")
# The characters wxacode.getUnlimited accepts in a scene.
WECHAT_SCENE_RE = re.compile(r"^[0-9A-Za-z!#$&'()*+,/:;=?@\-._~]{1,32}$")


def base36(n: int) -> str:
    if n < 0:
        raise ValueError("negative")
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def _derive(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"breakfast-qr-scene", hashlib.sha256).digest()


def _keys() -> tuple[int, dict[int, bytes]]:
    """(current version, {version: derived key}); cached on the app."""
    cache = current_app.extensions.get("breakfast_qr_keys")
    if cache is None:
        cfg = current_app.config
        version = int(cfg["QR_KEY_VERSION"])
        keys = {version: _derive(cfg["QR_KEY"])}
        for item in (cfg["QR_OLD_KEYS"] or "").split(","):
            if ":" in item:
                v, secret = item.split(":", 1)
                if v.strip().isdigit() and secret.strip():
                    keys.setdefault(int(v), _derive(secret.strip()))
        cache = (version, keys)
        current_app.extensions["breakfast_qr_keys"] = cache
    return cache


def current_key_version() -> int:
    return _keys()[0]


def _sign(key: bytes, head: str, generation: int) -> str:
    mac = hmac.new(key, f"{head}|g{generation}".encode(), hashlib.sha256).digest()[:SIG_BYTES]
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def make_scene(point_id: int, generation: int, *, key_version: int | None = None) -> str:
    """The scene for a point at its current generation, signed with the current key
    (or ``key_version``'s key, e.g. to show in tests that retired codes are refused)."""
    current, keys = _keys()
    version = current if key_version is None else key_version
    head = f"{PREFIX}.{base36(point_id)}.{base36(version)}"
    scene = f"{head}.{_sign(keys[version], head, generation)}"
    if len(scene) > MAX_SCENE or not WECHAT_SCENE_RE.match(scene):  # pragma: no cover - ids < 36**8
        raise ValueError("scene does not fit WeChat's limits")
    return scene


def point_scene(point) -> str:
    """The scene of a point's printed codes: its current generation, the current key."""
    return make_scene(point.id, point.qr_generation)


@dataclass(frozen=True)
class ParsedScene:
    point_id: int
    key_version: int
    scene: str


def parse(scene) -> ParsedScene | None:
    """Syntax only (no key, no database): None when the scene cannot be ours."""
    if not isinstance(scene, str) or len(scene) > MAX_SCENE:
        return None
    m = SCENE_RE.match(scene)
    if m is None:
        return None
    point_id = int(m.group(1), 36)
    if point_id > MAX_ID:  # beyond the INTEGER column: cannot be a point
        return None
    return ParsedScene(point_id, int(m.group(2), 36), scene)


def verify(parsed: ParsedScene, generation: int) -> str | None:
    """None when the scene is valid for the point's current generation and key;
    else ``"retired"`` (a genuine code of an older key or generation) or ``"forged"``."""
    current, keys = _keys()
    head = f"{PREFIX}.{base36(parsed.point_id)}.{base36(parsed.key_version)}"
    if parsed.key_version == current:
        expected = f"{head}.{_sign(keys[current], head, generation)}"
        if hmac.compare_digest(expected, parsed.scene):
            return None
    key = keys.get(parsed.key_version)
    if key is not None:
        low = max(1, generation - MAX_GENERATIONS_CHECKED)
        for gen in range(generation, low - 1, -1):
            if hmac.compare_digest(f"{head}.{_sign(key, head, gen)}", parsed.scene):
                return "retired"
    return "forged"


# --- images -------------------------------------------------------------------

def _qr(scene: str):
    return segno.make(scene, error="q", micro=False)


def png(scene: str, scale: int = 12) -> bytes:
    """A printable PNG of a plain QR code carrying the scene."""
    buf = io.BytesIO()
    _qr(scene).save(buf, kind="png", scale=scale, border=4)
    return buf.getvalue()


def poster_svg(scene: str, point_name: str, address: str, window: str) -> str:
    """An A4-proportioned SVG poster: the point's name in large text over the QR code.

    Pillow is not installed, so the poster is SVG (browsers print it as is);
    the QR is segno's own SVG nested inside, so it stays sharp at any size.
    """
    width, height = 1240, 1754
    qr = _qr(scene)
    modules = qr.symbol_size(scale=1, border=0)[0]
    qr_size = 860
    scale = qr_size / modules
    inner = qr.svg_inline(scale=scale, border=0, dark="#000")
    x = (width - qr_size) // 2
    y = 520
    inner = inner.replace("<svg ", f'<svg x="{x}" y="{y}" ', 1)
    font = "'PingFang SC','Microsoft YaHei','Noto Sans CJK SC','Source Han Sans SC',sans-serif"
    name_size = 96 if len(point_name) <= 10 else max(48, int(960 / max(len(point_name), 1)))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">'
        f'<rect width="{width}" height="{height}" fill="#fff"/>'
        f'<rect x="0" y="0" width="{width}" height="160" fill="#c8161d"/>'
        f'<text x="{width // 2}" y="110" text-anchor="middle" font-family="{font}" font-size="72" '
        f'fill="#fff" font-weight="bold">环卫工人免费早餐</text>'
        f'<text x="{width // 2}" y="330" text-anchor="middle" font-family="{font}" font-size="{name_size}" '
        f'font-weight="bold" fill="#111">{escape(point_name)}</text>'
        f'<text x="{width // 2}" y="440" text-anchor="middle" font-family="{font}" font-size="44" '
        f'fill="#333">供应时间 {escape(window)}</text>'
        f'{inner}'
        f'<text x="{width // 2}" y="{y + qr_size + 110}" text-anchor="middle" font-family="{font}" '
        f'font-size="52" fill="#111">请打开工会小程序扫码领取早餐</text>'
        f'<text x="{width // 2}" y="{y + qr_size + 190}" text-anchor="middle" font-family="{font}" '
        f'font-size="36" fill="#555">{escape(address)}</text>'
        f'<text x="{width // 2}" y="{height - 60}" text-anchor="middle" font-family="{font}" '
        f'font-size="28" fill="#888">每人每天限领一份 · 二维码更换后请以现场张贴为准</text>'
        '</svg>'
    )
