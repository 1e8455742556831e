"""The point's QR scene: short, in WeChat's character set, unforgeable, rotatable; its images."""
from __future__ import annotations

import contextlib
import re

from service.common import clock
from tests.breakfast.helpers import (
    PEAK,
    check_in,
    create_point,
    eligible_worker,
    quick_staff_token,
    scene_of,
    setup_city,
)
from tests.helpers import bearer, error_code, login_worker, make_org, outcome

WECHAT_SCENE = re.compile(r"^[0-9A-Za-z!#$&'()*+,/:;=?@\-._~]{1,32}$")


@contextlib.contextmanager
def qr_keys(app, **settings):
    """Run with other QR key settings (as after a key rotation), then restore them."""
    saved = {k: app.config.get(k) for k in settings}
    app.config.update(settings)
    app.extensions.pop("breakfast_qr_keys", None)
    try:
        yield
    finally:
        app.config.update(saved)
        app.extensions.pop("breakfast_qr_keys", None)


def test_scene_fits_wechat_and_names_the_point(client, app):
    org, staff = setup_city(app, client)
    point = create_point(client, staff)
    resp = client.get(f"/api/v1/admin/breakfast/points/{point['id']}/qr", headers=bearer(staff))
    assert resp.status_code == 200
    qr = resp.get_json()
    assert WECHAT_SCENE.match(qr["scene"]) and len(qr["scene"]) <= 32
    assert qr["scene"].startswith(f"b1.{point['id']}.")
    assert qr["page"] == "pages/breakfast/checkin"
    # The same point, the same code (posters printed twice match).
    assert scene_of(client, staff, point["id"]) == qr["scene"]


def test_forged_truncated_and_foreign_scenes_are_refused(client, app):
    org, staff = setup_city(app, client)
    point = create_point(client, staff)
    other = create_point(client, staff, name="另一个早餐点")
    scene = scene_of(client, staff, point["id"])
    token = eligible_worker(client, staff)
    with qr_keys(app, QR_KEY="a-key-of-some-other-deployment-0123456789"):
        foreign = scene_of(client, staff, point["id"])
    assert foreign != scene
    head, sig = scene.rsplit(".", 1)
    other_head = scene_of(client, staff, other["id"]).rsplit(".", 1)[0]
    flipped = sig[:5] + ("x" if sig[5] != "x" else "y") + sig[6:]
    clock.freeze(PEAK)
    attempts = {
        "forged signature": f"{head}.{flipped}",
        "truncated": scene[:-1],
        "truncated more": scene[:12],
        "signature of another point": f"{other_head}.{sig}",
        "re-signed with another key": foreign,
        "unknown point": f"b1.zzzz.1.{sig}",
        "key version changed": head.rsplit(".", 1)[0] + f".2.{sig}",
        "lower-cased": scene.lower() if scene.lower() != scene else scene.upper(),
    }
    for what, attempt in attempts.items():
        resp = check_in(client, token, attempt)
        assert resp.status_code == 422 and error_code(resp) == "qr_invalid", what
    assert check_in(client, token, scene).status_code == 201


def test_rotating_the_key_invalidates_old_codes(client, app):
    """Decided: only the current key version is accepted; old posters are reprinted."""
    org, staff = setup_city(app, client)
    point = create_point(client, staff)
    old_scene = scene_of(client, staff, point["id"])
    old_key = app.config["QR_KEY"]
    alice = eligible_worker(client, staff, "alice")
    bob = eligible_worker(client, staff, "bob")
    clock.freeze(PEAK)
    with qr_keys(app, QR_KEY="the-new-qr-key-after-rotation-0123456789", QR_KEY_VERSION=2,
                 QR_OLD_KEYS=f"1:{old_key}"):
        resp = check_in(client, alice, old_scene)
        assert resp.status_code == 422 and error_code(resp) == "qr_invalid"
        assert "更换" in resp.get_json()["error"]["message"]  # told it was replaced, not forged
        qr = client.get(f"/api/v1/admin/breakfast/points/{point['id']}/qr", headers=bearer(staff)).get_json()
        assert qr["key_version"] == 2 and qr["scene"] != old_scene
        assert check_in(client, alice, qr["scene"]).status_code == 201
    # Back on key 1 (nothing else changed), key 2's codes are unknown.
    assert error_code(check_in(client, bob, qr["scene"])) == "qr_invalid"


def test_rotating_one_point_invalidates_only_its_codes(client, app):
    org, staff = setup_city(app, client)
    point = create_point(client, staff)
    other = create_point(client, staff, name="另一个早餐点")
    old_scene = scene_of(client, staff, point["id"])
    other_scene = scene_of(client, staff, other["id"])
    resp = client.post(f"/api/v1/admin/breakfast/points/{point['id']}/qr/rotate", headers=bearer(staff))
    assert resp.status_code == 200
    new = resp.get_json()
    assert new["qr_generation"] == 2 and new["scene"] != old_scene and len(new["scene"]) <= 32
    alice = eligible_worker(client, staff, "alice")
    bob = eligible_worker(client, staff, "bob")
    clock.freeze(PEAK)
    resp = check_in(client, alice, old_scene)
    assert error_code(resp) == "qr_invalid" and "更换" in resp.get_json()["error"]["message"]
    assert check_in(client, alice, new["scene"]).status_code == 201
    assert check_in(client, bob, other_scene).status_code == 201
    log = client.get("/api/v1/admin/audit-log", headers=bearer(quick_staff_token(app, "admin", org)))
    assert "breakfast.point.qr_rotate" in [e["action"] for e in log.get_json()["items"]]


def test_qr_images_for_printing(client, app, redis_client):
    org, staff = setup_city(app, client)
    point = create_point(client, staff, name="文昌中路<爱心>早餐点")
    qr = client.get(f"/api/v1/admin/breakfast/points/{point['id']}/qr", headers=bearer(staff)).get_json()

    png = client.get(qr["image_url"], headers=bearer(staff))
    assert png.status_code == 200 and png.mimetype == "image/png"
    assert png.data.startswith(b"\x89PNG\r\n\x1a\n")

    poster = client.get(qr["poster_url"], headers=bearer(staff))
    assert poster.status_code == 200 and poster.mimetype == "image/svg+xml"
    text = poster.get_data(as_text=True)
    assert "文昌中路&lt;爱心&gt;早餐点" in text and "05:30–08:30" in text
    assert text.count("<svg") == 2  # the poster and the QR code inside it

    wxa = client.get(qr["wxacode_url"], headers=bearer(staff))
    assert wxa.status_code == 200 and wxa.mimetype == "image/png"
    assert wxa.data.startswith(b"\x89PNG")


def test_qr_images_need_staff_of_the_point(client, app):
    org, staff = setup_city(app, client)
    point = create_point(client, staff)
    elsewhere = make_org(app, "另一个市总工会")
    stranger = quick_staff_token(app, "breakfast_manager", elsewhere)
    worker = login_worker(client, "curious")
    for suffix in ("", "/image.png", "/poster.svg", "/wxacode.png"):
        url = f"/api/v1/admin/breakfast/points/{point['id']}/qr{suffix}"
        assert outcome(client.get(url)) == (401, "unauthenticated")
        assert outcome(client.get(url, headers=bearer(worker))) == (403, "forbidden")
        assert outcome(client.get(url, headers=bearer(stranger))) == (404, "not_found")
    assert outcome(client.post(f"/api/v1/admin/breakfast/points/{point['id']}/qr/rotate",
                               headers=bearer(stranger))) == (404, "not_found")
