"""Storage twins behind one small interface: local files, or S3 with the Airflow AWS connection's credentials.

The environment mapping (:mod:`edp.resources`) gives the lake (``lake.root``) and the artifacts
(quality records, Data Docs, gold exports) one :class:`Storage` each: :class:`LocalStorage` on a
laptop, :class:`S3Storage` on AWS. Files go through ``pyarrow.fs`` (the filesystem layer delta-rs and
the Arrow datasets already use); Delta tables are opened with :meth:`Storage.storage_options`.

Nothing is imported or resolved at construction: DAG files ask for names (:meth:`Storage.uri`) at parse
time, and credentials are fetched on first use, in the task.
"""

from __future__ import annotations

import abc
import dataclasses
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from pyarrow.fs import FileSystem

    from edp.config import PlatformConfig


class Storage(Protocol):
    root: str

    def uri(self, *parts: str) -> str:
        """The location of ``parts`` below the root: a path locally, an ``s3://`` URI on S3."""
        ...

    def storage_options(self) -> dict[str, str] | None:
        """delta-rs ``storage_options`` for tables under the root (``None``: none needed)."""
        ...

    def url(self, uri: str) -> str:
        """Where a person opens ``uri``: a ``file://`` URL locally, the ``s3://`` URI on S3."""
        ...

    def filesystem(self) -> FileSystem: ...

    def fs_path(self, uri: str) -> str:
        """``uri`` as a path of :meth:`filesystem`."""
        ...

    def write_bytes(self, uri: str, data: bytes) -> str:
        """Replace the object at ``uri`` (readers see the old or the new one, never half); return ``uri``."""
        ...

    def read_bytes(self, uri: str) -> bytes | None:
        """The object at ``uri``; ``None`` if there is none."""
        ...

    def list(self, uri: str) -> Iterator[str]:
        """URIs of the files directly below ``uri`` (none if it does not exist)."""
        ...

    def publish_tree(self, directory: Path, uri: str) -> int:
        """Copy every file under the local ``directory`` to ``uri``; return how many were copied."""
        ...


def _join(root: str, parts: tuple[str, ...]) -> str:
    return "/".join([root.rstrip("/"), *(p.strip("/") for p in parts if p)])


class _ArrowFiles(abc.ABC):
    """Reads and listings shared by the twins; each twin says how it writes."""

    @abc.abstractmethod
    def filesystem(self) -> FileSystem: ...

    @abc.abstractmethod
    def fs_path(self, uri: str) -> str: ...

    def read_bytes(self, uri: str) -> bytes | None:
        from pyarrow.fs import FileType  # noqa: PLC0415 - pyarrow on first use

        fs, path = self.filesystem(), self.fs_path(uri)
        if fs.get_file_info(path).type is not FileType.File:
            return None
        with fs.open_input_stream(path) as stream:
            return stream.read()

    def list(self, uri: str) -> Iterator[str]:
        from pyarrow.fs import FileSelector, FileType  # noqa: PLC0415

        fs = self.filesystem()
        base = uri.rstrip("/")
        for info in fs.get_file_info(FileSelector(self.fs_path(base), allow_not_found=True)):
            if info.type is FileType.File:
                yield f"{base}/{info.base_name}"

    @abc.abstractmethod
    def write_bytes(self, uri: str, data: bytes) -> str: ...

    def publish_tree(self, directory: Path, uri: str) -> int:
        copied = 0
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                self.write_bytes(
                    f"{uri.rstrip('/')}/{path.relative_to(directory).as_posix()}", path.read_bytes()
                )
                copied += 1
        return copied


class LocalStorage(_ArrowFiles):
    """Files under a local directory (``./data/lake``, ``.platform``)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = str(root)

    def uri(self, *parts: str) -> str:
        return _join(self.root, parts)

    def storage_options(self) -> dict[str, str] | None:
        return None

    def url(self, uri: str) -> str:
        return Path(uri).resolve().as_uri()

    def publish_tree(self, directory: Path, uri: str) -> int:
        if Path(uri).resolve() == directory.resolve():
            return 0  # written in place: the local artifacts are the working files
        return super().publish_tree(directory, uri)

    def filesystem(self) -> FileSystem:
        from pyarrow.fs import LocalFileSystem  # noqa: PLC0415

        return LocalFileSystem()

    def fs_path(self, uri: str) -> str:
        return str(Path(uri).absolute())

    def write_bytes(self, uri: str, data: bytes) -> str:
        fs, path = self.filesystem(), self.fs_path(uri)
        fs.create_dir(str(Path(path).parent), recursive=True)
        tmp = str(Path(path).with_name(f".{Path(path).name}.{os.getpid()}.tmp"))
        with fs.open_output_stream(tmp) as out:
            out.write(data)
        fs.move(tmp, path)  # a rename: atomic on one file system
        return uri


@dataclasses.dataclass(frozen=True)
class AwsCredentials:
    access_key: str
    secret_key: str
    token: str | None = None
    endpoint_url: str | None = None  # only for S3-compatible endpoints (tests); empty on AWS


class S3Storage(_ArrowFiles):
    """Objects under ``s3://bucket/prefix``; S3 replaces an object atomically on every put.

    :param credentials: called once, on first use (in a task: the Airflow AWS connection's).
    """

    def __init__(self, root: str, credentials: Callable[[], AwsCredentials], *, region: str) -> None:
        if not root.startswith("s3://"):
            raise ValueError(f"S3 storage needs an s3:// root, got {root!r}")
        self.root = root
        self.region = region
        self._credentials = credentials
        self._resolved: AwsCredentials | None = None

    @property
    def credentials(self) -> AwsCredentials:
        if self._resolved is None:
            self._resolved = self._credentials()
        return self._resolved

    def uri(self, *parts: str) -> str:
        return _join(self.root, parts)

    def url(self, uri: str) -> str:
        return uri

    def storage_options(self) -> dict[str, str] | None:
        creds = self.credentials
        options = {
            "AWS_ACCESS_KEY_ID": creds.access_key,
            "AWS_SECRET_ACCESS_KEY": creds.secret_key,
            "AWS_REGION": self.region,
        }
        if creds.token:
            options["AWS_SESSION_TOKEN"] = creds.token
        if creds.endpoint_url:
            options["AWS_ENDPOINT_URL"] = creds.endpoint_url
            options["AWS_ALLOW_HTTP"] = str(creds.endpoint_url.startswith("http://")).lower()
        return options

    def filesystem(self) -> FileSystem:
        from pyarrow.fs import S3FileSystem  # noqa: PLC0415

        creds = self.credentials
        endpoint = creds.endpoint_url or None
        return S3FileSystem(
            access_key=creds.access_key,
            secret_key=creds.secret_key,
            session_token=creds.token,
            region=self.region,
            endpoint_override=endpoint.split("://", 1)[-1] if endpoint else None,
            scheme=endpoint.split("://", 1)[0] if endpoint else "https",
        )

    def fs_path(self, uri: str) -> str:
        return uri.removeprefix("s3://").removeprefix("s3a://")

    def write_bytes(self, uri: str, data: bytes) -> str:
        with self.filesystem().open_output_stream(self.fs_path(uri)) as out:
            out.write(data)
        return uri


def airflow_credentials(config: PlatformConfig) -> Callable[[], AwsCredentials]:
    """The Airflow AWS connection's credentials (and endpoint), resolved when first called."""

    def resolve() -> AwsCredentials:
        from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook  # noqa: PLC0415 - task-time only

        hook = AwsBaseHook(aws_conn_id=config.connections.aws, client_type="s3")
        credentials = hook.get_credentials(region_name=config.stream.region)
        return AwsCredentials(
            credentials.access_key,
            credentials.secret_key,
            credentials.token,
            hook.conn_config.endpoint_url,
        )

    return resolve
