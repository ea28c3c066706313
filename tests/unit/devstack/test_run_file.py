"""run.json, the record of a running mesh that `make status`, `make stop` and tests read."""

from __future__ import annotations

import json
from pathlib import Path

from services.devstack.run_file import ComponentRecord, RunRecord, StopPlan

POSTGRES = ComponentRecord(
    name="postgres", pid=31, address="127.0.0.1:55432", log="/s/postgres/postgres.log",
    state="up", restarts=2, pid_start_time=777, last_exit="killed by SIGKILL",
    last_exit_code=-9, stop=StopPlan(how="pg_ctl", data_dir="/s/postgres", port=55432),
)  # fmt: skip


def test_a_record_reads_back_as_it_was_written(tmp_path: Path) -> None:
    record = RunRecord(1, 555, str(tmp_path), "always", (POSTGRES,))
    record.write(tmp_path)
    assert RunRecord.read(tmp_path) == record


def test_each_component_keeps_the_keys_older_readers_use(tmp_path: Path) -> None:
    RunRecord(1, None, str(tmp_path), "always", (POSTGRES,)).write(tmp_path)
    document = json.loads((tmp_path / "run.json").read_text())
    [entry] = document["components"]
    assert document["supervisor_pid"] == 1
    assert {"name", "pid", "address", "log", "state", "restarts"} <= entry.keys()
    assert (entry["name"], entry["pid"], entry["restarts"]) == ("postgres", 31, 2)


def test_a_record_of_an_older_launcher_still_reads(tmp_path: Path) -> None:
    (tmp_path / "run.json").write_text(json.dumps({"supervisor_pid": 9, "components": [
        {"name": "pricing", "pid": 12, "address": "127.0.0.1:1", "log": "/l"},
    ]}))  # fmt: skip
    record = RunRecord.read(tmp_path)
    assert record is not None
    assert record.components[0].name == "pricing"
    assert record.components[0].stop == StopPlan()


def test_no_record_means_no_mesh(tmp_path: Path) -> None:
    assert RunRecord.read(tmp_path) is None
