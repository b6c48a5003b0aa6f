"""No secret is ever printed, logged or stored: generated keys thrown at every entry point that
takes a URI.

Keys are made of fragments joined by ``/``, ``+``, ``=``, ``:`` and ``@`` (real secrets hold the
first three; the last two break naive URI parsing). Each URI form (userinfo, query parameters,
signed-URL parameters) goes to each entry point (``--data``, ``--out``, ``--model``,
``--resume``, ``--futr``, ``Ensemble.load``, ``Ensemble.predict``, ``Foretune(out=)``,
``Foretune(config=data.path)``, ``Foretune.fit``); every fragment of the key must be absent from
stdout, stderr, the log records, the files written and the raised exception with its traceback. Nothing may be
opened first: building an S3 file system or asking for a bucket's region fails the test, and the
S3 endpoint points at a closed loopback port in case anything reached further.
"""

from __future__ import annotations

import logging
import string
import tempfile
import traceback
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from workspace import Workspace

from foretune import Foretune
from foretune.cli import main
from foretune.ensemble import Ensemble
from foretune.errors import ForetuneError
from foretune.storage import holds_credentials, locations, redact

FRAGMENT = st.text(alphabet=string.ascii_letters + string.digits, min_size=6, max_size=16).map(
    lambda s: f"Q{s}Z"  # a marker at both ends: a fragment cannot be a word of any message
)
SEPARATOR = st.sampled_from(list("/+=:@"))


@st.composite
def secrets(draw) -> str:
    parts = [draw(FRAGMENT)]
    for _ in range(draw(st.integers(0, 4))):
        parts += [draw(SEPARATOR), draw(FRAGMENT)]
    return "".join(parts)


ACCESS = st.text(alphabet=string.ascii_uppercase + string.digits, min_size=12, max_size=16).map(
    lambda s: f"AKIA{s}X"
)
#: URI forms holding an access key and a secret; ``{path}`` is where the entry point points.
FORMS = [
    "s3://{access}:{secret}@my-bucket/{path}",
    "s3://{access}@my-bucket/{path}",
    "s3://my-bucket/{path}?access_key={access}&secret_key={secret}",
    "s3://my-bucket/{path}?session_token={secret}",
    "s3://my-bucket/{path}?X-Amz-Credential={access}&X-Amz-Signature={secret}",
    "gs://{access}:{secret}@my-bucket/{path}",
]


def _cli(*argv: str):
    return lambda uri, ws, fresh: main([a.format(uri=uri, ws=ws.root, fresh=fresh) for a in argv])


ENTRY_POINTS = {
    "run --out": ("runs/x", _cli("run", "--out", "{uri}")),
    "run --data": ("data/h.parquet", _cli("run", "--data", "{uri}", "--out", "{fresh}/run")),
    "run --resume": ("runs/x", _cli("run", "--resume", "{uri}")),
    "predict --model": (
        "runs/x/ensemble",
        _cli("predict", "--model", "{uri}", "--data", "{ws}/hist.parquet"),
    ),
    "predict --data": ("data/h.parquet", _cli("predict", "--model", "{ws}/model", "--data", "{uri}")),
    "predict --out": (
        "out/forecast.parquet",
        _cli("predict", "--model", "{ws}/model", "--data", "{ws}/hist.parquet", "--out", "{uri}"),
    ),
    "predict --futr": (
        "data/futr.parquet",
        _cli("predict", "--model", "{ws}/model", "--data", "{ws}/hist.parquet", "--futr", "{uri}"),
    ),
    "evaluate --data": ("data/h.parquet", _cli("evaluate", "--model", "{ws}/model", "--data", "{uri}")),
    "Ensemble.load": ("runs/x/ensemble", lambda uri, ws, fresh: Ensemble.load(uri)),
    "Ensemble.predict": ("data/h.parquet", lambda uri, ws, fresh: ws.ensemble.predict(uri)),
    "Foretune(out=)": ("runs/x", lambda uri, ws, fresh: Foretune(out=uri)),
    "Foretune.fit(data)": ("data/h.parquet", lambda uri, ws, fresh: Foretune(out=fresh / "fit").fit(uri)),
    "Foretune.fit(static_df=)": (
        "data/static.parquet",
        lambda uri, ws, fresh: Foretune(out=fresh / "fit").fit(ws.path("hist.parquet"), static_df=uri),
    ),
    "Foretune(config=data.path)": (
        "data/h.parquet",
        lambda uri, ws, fresh: Foretune(config={"data.path": uri}, out=fresh / "fit"),
    ),
}


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Workspace:
    return Workspace.build(tmp_path_factory.mktemp("workspace"))


@pytest.fixture
def nothing_opened(monkeypatch):
    """Opening S3 or asking for a bucket's region fails the test; the endpoint is a closed port."""

    def refuse(*args, **kwargs):
        raise AssertionError("a URI holding credentials reached the file system")

    monkeypatch.setattr(locations, "_s3", refuse)
    monkeypatch.setattr(locations, "_bucket_region", refuse)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def _fragments(*keys: str) -> set[str]:
    """Every part of the keys between separators."""
    out = set()
    for key in keys:
        for sep in "/+=:@":
            key = key.replace(sep, " ")
        out |= set(key.split())
    return out


def _files_text(root: Path) -> str:
    return "\n".join(p.read_bytes().decode("latin-1") for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(access=ACCESS, secret=secrets(), form=st.sampled_from(FORMS))
def test_no_fragment_of_a_key_leaks(
    entry, access, secret, form, ws, capsys, caplog, nothing_opened, monkeypatch
):
    path, call = ENTRY_POINTS[entry]
    uri = form.format(access=access, secret=secret, path=path)
    assert holds_credentials(uri)
    capsys.readouterr()
    caplog.clear()
    with tempfile.TemporaryDirectory() as tmp, caplog.at_level(logging.DEBUG):
        fresh = Path(tmp)
        monkeypatch.chdir(fresh)
        raised = ""
        try:
            code = call(uri, ws, fresh)
        except ForetuneError as exc:
            raised = "".join(traceback.format_exception(exc)) + repr(exc)
            code = 2
        out, err = capsys.readouterr()
        written = _files_text(fresh)
    seen = "\n".join([out, err, raised, caplog.text, written])
    assert code == 2, seen
    assert "credentials" in seen and redact(uri) in seen, seen
    leaked = sorted(f for f in _fragments(access, secret) if f in seen)
    assert not leaked, f"{leaked} printed, logged or written:\n{seen}"


def test_a_key_with_a_slash_is_redacted_whole():
    # AWS's documented example key: the secret holds '/', which once leaked its first part
    uri = "s3://AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY@my-bucket/runs/x"
    assert redact(uri) == "s3://***@my-bucket/runs/x"
    query = "s3://my-bucket/runs/x?access_key=AKIAIOSFODNN7EXAMPLE&secret_key=wJalr/K7MDENG"
    assert redact(query) == "s3://my-bucket/runs/x?access_key=***&secret_key=***"


@pytest.mark.parametrize(
    "uri",
    [
        "s3://my-bucket/runs/user@example.com/x",  # an '@' inside a key: not credentials
        "hdfs://namenode:8020/data/panel.parquet",  # a port, no userinfo
        "gs://my-bucket/data?generation=3",
        "/home/user/key:value@data.parquet",  # a local path: no URI
    ],
)
def test_locations_without_credentials_pass(uri):
    assert not holds_credentials(uri)
