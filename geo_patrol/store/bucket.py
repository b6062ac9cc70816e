"""Media in an S3-compatible bucket (``GEO_PATROL_MEDIA_URL=s3://bucket/prefix``): the
:class:`geo_patrol.store.media.MediaStore` of a larger deployment, by boto3 (the ``s3``
extra)."""

from __future__ import annotations

import functools
import os
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

#: The error codes S3 answers for a key that is not there.
_MISSING = ("NoSuchKey", "404", "NotFound")


class BucketStore:
    """Media as objects in an S3-compatible bucket, under a prefix."""

    def __init__(self, client: Any, bucket: str, prefix: str = ""):
        self.client, self.bucket, self.prefix = client, bucket, prefix.strip("/")

    def name(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self.name(key), Body=data)

    def get(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self.name(key))["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                raise FileNotFoundError(key) from None
            raise

    def delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):  # at most 1000 keys a request
            chunk = keys[start:start + 1000]
            if chunk:
                self.client.delete_objects(Bucket=self.bucket, Delete={
                    "Objects": [{"Key": self.name(k)} for k in chunk], "Quiet": True})

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.name(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                return False
            raise
        return True


@functools.lru_cache(maxsize=8)
def client(endpoint: str | None, key: str | None, secret: str | None) -> Any:
    """One S3 client per endpoint and credentials (clients are thread-safe); without a key
    and secret, boto3's own chain (the standard AWS environment variables and files)."""
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint or None, aws_access_key_id=key or None,
        aws_secret_access_key=secret or None,
        region_name=os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION")
        or "us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}))
