"""`runs cancel` sent the moment a run shows `running`, before its driver is on record."""

from __future__ import annotations

import subprocess
import sys
import threading

from workbench.catalogue.pipelines import PipelineLedger
from workbench.core.entities import RunStatus
from workbench.core.settings import Settings
from workbench.owner import open_catalogue
from workbench.services.control import cancel_run
from workbench.services.driver import driver_info

# A stand-in driver: it reports that SIGTERM reached it, then records the cancellation as the
# real driver does, by exiting 130 (the caller records `cancelled` for a driver that is gone).
DRIVER = """
import signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
print("ready", flush=True)
time.sleep(60)
"""


def test_a_cancel_before_the_driver_is_recorded_still_reaches_it(settings: Settings) -> None:
    with open_catalogue(settings) as catalogue:
        run_id = catalogue.create_run("sleepy")  # `running`, with no driver on record yet
    driver = subprocess.Popen([sys.executable, "-c", DRIVER], stdout=subprocess.PIPE, text=True)
    try:
        assert driver.stdout is not None
        assert driver.stdout.readline() == "ready\n"
        recorded = threading.Event()

        def record_driver_late() -> None:
            with open_catalogue(settings) as catalogue:
                info = {**driver_info(), "pid": driver.pid}
                PipelineLedger(catalogue).set_driver(run_id, info)
            recorded.set()

        late = threading.Timer(0.5, record_driver_late)
        late.start()
        status = cancel_run(settings, run_id, wait_s=5.0)
        late.join()
        assert recorded.is_set()
        assert driver.wait(timeout=10) == 130, "the driver recorded late never got SIGTERM"
        assert status == RunStatus.CANCELLED
    finally:
        driver.kill()
        driver.wait()


def test_cancel_records_a_run_whose_driver_never_appears(settings: Settings) -> None:
    with open_catalogue(settings) as catalogue:
        run_id = catalogue.create_run("sleepy")
    assert cancel_run(settings, run_id, wait_s=0.5) == RunStatus.CANCELLED
    with open_catalogue(settings) as catalogue:
        run = catalogue.get_run(run_id)
    assert (run.status, run.error) == (RunStatus.CANCELLED, "cancelled")
