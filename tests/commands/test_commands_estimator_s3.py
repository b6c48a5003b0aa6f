"""``Foretune.save``/``load`` on object storage: a real S3 server on loopback (moto's, as in
tests/storage), no Ray: the estimator of ``test_commands_estimator_api``."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest
from test_commands_estimator_api import ft, panel, train  # noqa: F401 - the fixtures

from foretune.commands.estimator import Foretune

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "storage"))
from s3_server import BUCKET, serving_as_writer  # noqa: E402

pytestmark = [pytest.mark.s3, pytest.mark.slow]


@pytest.fixture(scope="module")
def s3():
    """The server, and this process's AWS variables pointing at it with the writer's keys."""
    with serving_as_writer() as server:
        yield server


def test_save_to_a_bucket_and_load_forecast_the_same(s3, ft):  # noqa: F811
    uri = f"s3://{BUCKET}/models/m1"
    assert str(ft.save(uri)) == uri
    keys = [o["Key"] for o in s3.client().list_objects_v2(Bucket=BUCKET, Prefix="models/m1/")["Contents"]]
    assert "models/m1/foretune.json" in keys and "models/m1/ensemble/manifest.json" in keys
    back = Foretune.load(uri)
    pd.testing.assert_frame_equal(back.predict(), ft.predict())
    assert back.saved_at == uri
    ft.save(uri, save_dataset=False)  # replaces the earlier save: no history left behind
    keys = [o["Key"] for o in s3.client().list_objects_v2(Bucket=BUCKET, Prefix="models/m1/")["Contents"]]
    assert "models/m1/history.parquet" not in keys
