"""Shared outputs for a cluster: folders that must be local say so, URLs go through fsspec."""

from __future__ import annotations

import uuid
from pathlib import Path

import fsspec
import pytest
from pydantic import ValidationError

from leadflow.settings import Settings
from leadflow.storage import is_url, publish_folder


@pytest.mark.parametrize(
    ("field", "hint"),
    [
        ("LEADFLOW_HOME", "LEADFLOW_DATA_DOCS_URL"),
        ("LEADFLOW_LANDING_DIR", "`location: <URL>`"),
        ("LEADFLOW_OUTBOX_DIR", "AIRFLOW_CONN_LEADFLOW_FILE"),
    ],
)
def test_a_url_where_a_local_folder_is_needed_is_refused_with_the_place_for_it(field, hint, monkeypatch) -> None:
    monkeypatch.setenv(field, "s3://bucket/leadflow")
    with pytest.raises(ValidationError) as err:
        Settings()
    assert f"{field} must be a local folder, not s3://bucket/leadflow" in str(err.value)
    assert hint in str(err.value)


def test_local_folders_and_file_urls_are_still_folders(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LEADFLOW_OUTBOX_DIR", str(tmp_path / "out"))
    assert Settings().outbox == tmp_path / "out"
    assert not is_url(tmp_path) and not is_url("file:///tmp/x") and is_url("s3://b/x")


def test_publish_folder_copies_the_tree_and_names_the_url_when_it_cannot(tmp_path: Path) -> None:
    (tmp_path / "site" / "validations").mkdir(parents=True)
    (tmp_path / "site" / "index.html").write_text("<html>index</html>")
    (tmp_path / "site" / "validations" / "a.html").write_text("<html>a</html>")
    url = f"memory://published-{uuid.uuid4().hex[:8]}/docs"
    assert publish_folder(tmp_path / "site", url) == 2
    fs = fsspec.filesystem("memory")
    assert fs.cat(f"{url}/validations/a.html") == b"<html>a</html>"
    assert publish_folder(tmp_path / "site", url) == 2  # a re-run overwrites, nothing doubles
    assert len(fs.find(url)) == 2
    with pytest.raises(RuntimeError, match="cannot write to nosuchstore://x/docs"):
        publish_folder(tmp_path / "site", "nosuchstore://x/docs")
