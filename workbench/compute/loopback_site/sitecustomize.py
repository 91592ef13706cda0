"""Keeps Ray's Prometheus pages on 127.0.0.1: run by every Python process Ray starts for
Workbench, because this folder is first on their PYTHONPATH (see `loopback_site.FOLDER`).

Ray's autoscaler (monitor.py) and dashboard head (dashboard.py) serve metrics on every
interface, without the token, unless the node's address is loopback; and Ray turns
127.0.0.1 into the outside address, so a head on 127.0.0.1 still gets them on 0.0.0.0. In
those two processes only, prometheus_client's server takes 127.0.0.1 where it was given no
address or every interface. Every other process returns at once, having imported nothing.
"""

import sys

RAY_PAGES = ("monitor.py", "dashboard.py")
EVERY_INTERFACE = ("", "0.0.0.0", "::")


def _pin_metrics_pages_to_loopback() -> None:
    script = sys.argv[0] if sys.argv else ""
    if "ray" not in script or not script.endswith(RAY_PAGES):
        return
    try:
        import prometheus_client
        from prometheus_client import exposition
    except ImportError:
        return  # then Ray starts no page either
    serve = exposition.start_http_server

    def on_loopback(port, addr="127.0.0.1", *args, **kwargs):
        return serve(port, "127.0.0.1" if addr in EVERY_INTERFACE else addr, *args, **kwargs)

    prometheus_client.start_http_server = on_loopback
    exposition.start_http_server = on_loopback


_pin_metrics_pages_to_loopback()
