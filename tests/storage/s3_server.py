"""A real S3-compatible server on loopback for the object-storage tests (``moto``'s threaded server).

    server = S3Server.start()          # 127.0.0.1:<free port>, bucket BUCKET, users writer/reader
    server.env(server.writer)          # the environment a process needs to use the bucket
    server.enforce_auth(True)          # from now on, check signatures and IAM policies

Two IAM users: ``writer`` may do everything on S3, ``reader`` only list and read ``BUCKET``.
With ``enforce_auth(True)`` (moto's ``/moto-api/reset-auth``) moto checks every request's
signature and policy as S3 does, so a process without valid credentials, or with the reader's,
is refused. It is off otherwise: moto's signature check rejects pyarrow's signed listings
(``ListObjectsV2`` with a prefix), which real S3 accepts. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import json
import logging
import socket
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

BUCKET = "foretune-tests"
REGION = "us-east-1"
_ADMIN = {"aws_access_key_id": "admin", "aws_secret_access_key": "admin", "region_name": REGION}
# moto authorises a HEAD on a bucket as s3:HeadBucket (AWS: s3:ListBucket)
_READ = ["s3:ListBucket", "s3:HeadBucket", "s3:GetObject"]


@dataclass
class S3Server:
    server: object
    endpoint: str
    writer: tuple[str, str]
    reader: tuple[str, str]

    @classmethod
    def start(cls) -> S3Server:
        import boto3
        from moto.server import ThreadedMotoServer

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        endpoint = f"http://127.0.0.1:{port}"
        # moto keeps its accounts in the process: start each server (one per test module) clean
        urllib.request.urlopen(
            urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10
        )
        boto3.client("s3", endpoint_url=endpoint, **_ADMIN).create_bucket(Bucket=BUCKET)
        iam = boto3.client("iam", endpoint_url=endpoint, **_ADMIN)
        keys = {}
        bucket = [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"]
        for user, actions, resource in (("writer", ["s3:*"], ["*"]), ("reader", _READ, bucket)):
            iam.create_user(UserName=user)
            policy = {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": actions,
                        "Resource": resource,
                    }
                ],
            }
            iam.put_user_policy(UserName=user, PolicyName="bucket", PolicyDocument=json.dumps(policy))
            key = iam.create_access_key(UserName=user)["AccessKey"]
            keys[user] = (key["AccessKeyId"], key["SecretAccessKey"])
        return cls(server, endpoint, keys["writer"], keys["reader"])

    def enforce_auth(self, on: bool) -> None:
        """Check every request's signature and policy (``on``) or accept any request."""
        request = urllib.request.Request(
            f"{self.endpoint}/moto-api/reset-auth",
            data=b"0" if on else b"inf",
            method="POST",
            headers={"Content-Type": "text/plain"},
        )
        urllib.request.urlopen(request, timeout=10).read()

    def env(self, keys: tuple[str, str] | None) -> dict[str, str]:
        """The AWS variables of a process using the server with ``keys`` (None: no credentials)."""
        env = {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        }
        if keys is not None:
            env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = keys
        return env

    def client(self, keys: tuple[str, str] | None = None):
        """A boto3 S3 client (the writer's by default) for the tests' own checks."""
        import boto3

        access, secret = keys or self.writer
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=access,
            aws_secret_access_key=secret,
            region_name=REGION,
        )

    def stop(self) -> None:
        self.server.stop()


#: The AWS variables a test clears, so only the server's credentials are in effect.
AWS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")


@contextmanager
def serving_as_writer() -> Iterator[S3Server]:
    """A started server, this process's AWS variables pointing at it with the writer's keys;
    both undone on exit (a module-scoped fixture's body)."""
    import pytest

    server = S3Server.start()
    patch = pytest.MonkeyPatch()
    for name in AWS:
        patch.delenv(name, raising=False)
    for name, value in server.env(server.writer).items():
        patch.setenv(name, value)
    try:
        yield server
    finally:
        patch.undo()
        server.stop()
