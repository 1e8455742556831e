"""The app's WeChat gateway, built lazily from its config (one per app)."""
from __future__ import annotations

import functools
import threading

from flask import current_app

from service.observability import record_wechat_call
from wechat.errors import WeChatError

_lock = threading.Lock()


class WeChatHandle:
    def init_app(self, app) -> None:
        app.extensions["wechat"] = self._State(app)

    class _State:
        def __init__(self, app):
            self.app = app
            self.gateway = None

        def get(self):
            if self.gateway is None:
                with _lock:
                    if self.gateway is None:
                        from wechat import WeChatGateway

                        cfg = self.app.config
                        self.gateway = WeChatGateway(
                            appid=cfg["WECHAT_APPID"], secret=cfg.get("WECHAT_SECRET") or "",
                            api_base=cfg["WECHAT_API_BASE"],
                            redis_client=self.app.extensions["redis"].client,
                            timeout=float(cfg.get("WECHAT_TIMEOUT", 5.0)))
            return self.gateway

        def reset(self) -> None:
            self.gateway = None

    @property
    def gateway(self):
        return current_app.extensions["wechat"].get()

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        found = getattr(self.gateway, name)
        if not callable(found):
            return found

        @functools.wraps(found)
        def counted(*args, **kwargs):
            """Each call to WeChat counted by its outcome: ok, or the errcode or error code."""
            try:
                result = found(*args, **kwargs)
            except WeChatError as err:
                record_wechat_call(name, str(err.errcode) if err.errcode is not None else err.code)
                raise
            record_wechat_call(name, "ok")
            return result
        return counted


wechat_gateway = WeChatHandle()
