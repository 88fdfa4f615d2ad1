"""Where a run's artifacts live, and listing, reading and writing them without holding a
whole file in memory.

Three kinds of location:

- `S3Location`: an `s3://bucket/prefix` artifact root read and written with the store's
  own keys (vpmigrate.migrate.s3): one listing request per 1,000 files, multipart
  streams, and a server-side copy when source and target are the same S3 service.
- `ServedLocation`: an `mlflow-artifacts:/...` root, which the tracking server proxies
  (`/api/2.0/mlflow-artifacts/artifacts/<path>`): GET and PUT stream through it.
- `ProxiedReadLocation`: any other root the source server can read itself (an `s3://`
  root whose keys we do not have, a local path): listed with `artifacts/list` and read
  with the UI's `/get-artifact` route. Read only.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import quote, urlparse

from vpmigrate.errors import UserError
from vpmigrate.migrate.rest import (
    API,
    ARTIFACTS_API,
    ApiError,
    MaybeSent,
    RequestCounter,
    RestClient,
    Stopped,
)

CHUNK = 1024 * 1024
PART = 16 * 1024 * 1024  # multipart part size for streamed uploads
FILE_ATTEMPTS = 3  # a streamed file whose upload failed is sent again from the start


@dataclass(frozen=True)
class ArtifactFile:
    path: str  # relative to the run's artifact root, "/"-separated
    size: int
    checksum: str | None = None  # a plain MD5 (S3 ETag of a single-part object) when known


@dataclass(frozen=True)
class S3Config:
    """One side's S3 service: endpoint and keys (from the compose file or env/railway.yml)."""

    role: str
    endpoint_url: str | None  # None: AWS's own endpoint
    region: str
    access_key_id: str
    secret_access_key: str = field(repr=False)
    configured_by: str = ""  # where endpoint and keys came from, for messages

    def same_service(self, other: S3Config) -> bool:
        return (self.endpoint_url, self.access_key_id, self.secret_access_key) == (
            other.endpoint_url,
            other.access_key_id,
            other.secret_access_key,
        )

    def where(self) -> str:
        return self.endpoint_url or f"AWS S3 ({self.region})"


class S3Service:
    """One side's S3 client (vpmigrate.migrate.s3), with requests counted and errors
    explained."""

    def __init__(
        self,
        config: S3Config,
        counter: RequestCounter,
        connections: int,
        stop: threading.Event | None = None,
    ) -> None:
        from vpmigrate.migrate.s3 import Credentials, S3Client

        self.config = config
        where = f"{config.role}-s3"

        def count(operation: str, write: bool) -> None:
            counter.add(where, write=write)

        self.client = S3Client(
            config.endpoint_url,
            Credentials(config.access_key_id, config.secret_access_key, config.region),
            connections=max(10, connections * 2),
            stop=stop,
            on_request=count,
        )
        self._checked: set[str] = set()
        self._lock = threading.Lock()

    def close(self) -> None:
        self.client.close()

    def explain(self, exc: Exception, bucket: str, action: str) -> UserError:
        from vpmigrate.migrate.s3 import S3Error, S3Unreachable

        c = self.config
        side = f"the {c.role}'s S3 ({c.where()}, keys from {c.configured_by or 'settings'})"
        if isinstance(exc, S3Unreachable):
            return UserError(
                f"cannot reach {side} for {action} on bucket {bucket} ({exc.kind}): check that "
                "the S3 service runs and its endpoint is reachable from here, then re-run."
            )
        code = exc.code if isinstance(exc, S3Error) else ""
        if code == "NoSuchBucket" or (code == "404" and action == "head bucket"):
            return UserError(
                f"bucket {bucket} does not exist at {side}: create it (for the local stack the "
                "bucket job does, `inv local.up`; on Railway the bucket of env/railway.yml "
                "s3.bucket) or fix the artifact root, then re-run."
            )
        if code in (
            "AccessDenied",
            "403",
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "AllAccessDisabled",
        ):
            return UserError(
                f"{side} denied {action} on bucket {bucket} ({code}): the keys need "
                f"{'write' if c.role == 'target' else 'read'} access to it; fix "
                "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY there and re-run."
            )
        text = " ".join(str(exc).split())[:300]
        return UserError(f"{side} failed {action} on bucket {bucket}: {text}. Re-run to retry.")

    @contextmanager
    def explained(self, bucket: str, action: str) -> Iterator[None]:
        """S3's failures in the block as the one-paragraph error; a stop as `Stopped`."""
        from vpmigrate.migrate.s3 import S3Error, S3Stopped, S3Unreachable

        try:
            yield
        except S3Stopped:
            raise Stopped() from None
        except (S3Error, S3Unreachable) as exc:
            raise self.explain(exc, bucket, action) from None

    def check_bucket(self, bucket: str) -> None:
        with self._lock:
            if bucket in self._checked:
                return
        with self.explained(bucket, "head bucket"):
            self.client.head_bucket(bucket)
        with self._lock:
            self._checked.add(bucket)


class Location(Protocol):
    uri: str

    def list(self) -> list[ArtifactFile]: ...

    def open(self, path: str) -> AbstractContextManager[Iterator[bytes]]: ...


class WritableLocation(Location, Protocol):
    def write(self, path: str, chunks: Iterable[bytes], size: int) -> None: ...


class S3Location:
    def __init__(self, service: S3Service, uri: str) -> None:
        parsed = urlparse(uri)
        self.uri = uri
        self.service = service
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/")

    def key(self, path: str) -> str:
        return f"{self.prefix}/{path}" if self.prefix else path

    def list(self) -> list[ArtifactFile]:
        self.service.check_bucket(self.bucket)
        prefix = f"{self.prefix}/" if self.prefix else ""
        found = []
        with self.service.explained(self.bucket, "list objects"):
            for item in self.service.client.list_objects(self.bucket, prefix):
                relative = item.key[len(prefix) :]
                if not relative or relative.endswith("/"):
                    continue  # folder markers
                plain = item.etag if item.etag and "-" not in item.etag else None
                found.append(ArtifactFile(relative, item.size, plain))
        return found

    @contextmanager
    def open(self, path: str) -> Iterator[Iterator[bytes]]:
        action = f"read {self.key(path)}"
        with ExitStack() as stack:
            with self.service.explained(self.bucket, action):
                chunks = stack.enter_context(
                    self.service.client.get_object(self.bucket, self.key(path), CHUNK)
                )
            yield self._explained(chunks, action)

    def _explained(self, chunks: Iterator[bytes], action: str) -> Iterator[bytes]:
        # A read failing half-way is this side's, even while the other side's write
        # is what pulls the chunks.
        with self.service.explained(self.bucket, action):
            yield from chunks

    def write(self, path: str, chunks: Iterable[bytes], size: int) -> None:
        self.service.check_bucket(self.bucket)
        key = self.key(path)
        reader = _ChunkReader(chunks)
        with self.service.explained(self.bucket, f"write {key}"):
            # A file smaller than one part goes in one PutObject, larger ones in parts.
            head = reader.read(PART + 1) if size < PART else b""
            if size < PART and len(head) <= PART:
                self.service.client.put_object(self.bucket, key, head)
                return
            rest = _ChunkReader(itertools.chain([head], reader.rest())) if head else reader
            self.service.client.put_parts(self.bucket, key, iter(lambda: rest.read(PART), b""))

    def copy_from(self, source: S3Location, path: str, size: int) -> None:
        """Server-side copy within one S3 service: no byte passes through here."""
        key = self.key(path)
        with self.service.explained(self.bucket, f"copy to {key}"):
            self.service.client.copy_object(source.bucket, source.key(path), self.bucket, key, size)


class _ChunkReader:
    """A file-like `read(n)` over an iterator of byte chunks (an upload's parts)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buffer = bytearray()
        self._done = False

    def read(self, size: int = -1) -> bytes:
        while not self._done and (size < 0 or len(self._buffer) < size):
            try:
                self._buffer += next(self._chunks)
            except StopIteration:
                self._done = True
        if size < 0:
            size = len(self._buffer)
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def rest(self) -> Iterator[bytes]:
        """What is left: the buffered bytes, then the remaining chunks."""
        if self._buffer:
            yield bytes(self._buffer)
            self._buffer.clear()
        if not self._done:
            yield from self._chunks


class ServedLocation:
    """An `mlflow-artifacts:/` root, read and written through the tracking server."""

    def __init__(self, rest: RestClient, uri: str) -> None:
        self.uri = uri
        self.rest = rest
        self.base = served_path(uri)

    def _full(self, path: str) -> str:
        return f"{self.base}/{path}".strip("/") if path else self.base

    def list(self) -> list[ArtifactFile]:
        found: list[ArtifactFile] = []
        pending = [""]
        while pending:
            folder = pending.pop()
            try:
                data = self.rest.get(ARTIFACTS_API, {"path": self._full(folder)})
            except ApiError as exc:
                if exc.code == "RESOURCE_DOES_NOT_EXIST" or exc.status == 404:
                    continue
                raise UserError(
                    f"the {self.rest.server.role} MLflow could not list artifacts at "
                    f"{self.uri}: {exc.message}"
                ) from None
            for item in data.get("files", []):
                name = item["path"].rsplit("/", 1)[-1]
                relative = f"{folder}/{name}" if folder else name
                if item.get("is_dir"):
                    pending.append(relative)
                else:
                    found.append(ArtifactFile(relative, int(item.get("file_size") or 0)))
        return found

    @contextmanager
    def open(self, path: str) -> Iterator[Iterator[bytes]]:
        with self.rest.stream(f"{ARTIFACTS_API}/{quote(self._full(path))}") as response:
            yield response.iter_bytes(CHUNK)

    def write(self, path: str, chunks: Iterable[bytes], size: int) -> None:
        self.rest.put_stream(f"{ARTIFACTS_API}/{quote(self._full(path))}", chunks, size)


class ProxiedReadLocation:
    """A root only the source server itself can read: listed and read through it."""

    def __init__(self, rest: RestClient, uri: str, run_id: str) -> None:
        self.uri = uri
        self.rest = rest
        self.run_id = run_id

    def list(self) -> list[ArtifactFile]:
        found: list[ArtifactFile] = []
        pending = [""]
        while pending:
            folder = pending.pop()
            params = {"run_id": self.run_id}
            if folder:
                params["path"] = folder
            try:
                data = self.rest.get(f"{API}/artifacts/list", params)
            except ApiError as exc:
                raise UserError(
                    f"the source MLflow could not list the artifacts of run {self.run_id} at "
                    f"{self.uri}: {exc.message}"
                ) from None
            for item in data.get("files", []):
                if item.get("is_dir"):
                    pending.append(item["path"])
                else:
                    found.append(ArtifactFile(item["path"], int(item.get("file_size") or 0)))
        return found

    @contextmanager
    def open(self, path: str) -> Iterator[Iterator[bytes]]:
        with self.rest.stream("/get-artifact", {"path": path, "run_uuid": self.run_id}) as response:
            yield response.iter_bytes(CHUNK)


def served_path(uri: str) -> str:
    """The path under the server's artifact destination of an `mlflow-artifacts` URI
    (`mlflow-artifacts:/1/abc/artifacts`, `mlflow-artifacts://host/1/...`, or the HTTP form)."""
    parsed = urlparse(uri)
    if parsed.scheme == "mlflow-artifacts":
        return parsed.path.strip("/")
    anchor = "/api/2.0/mlflow-artifacts/artifacts/"
    return parsed.path.split(anchor, 1)[-1].strip("/")


def is_served(uri: str) -> bool:
    parsed = urlparse(uri)
    return parsed.scheme == "mlflow-artifacts" or (
        parsed.scheme in ("http", "https") and "/api/2.0/mlflow-artifacts/artifacts" in parsed.path
    )


class Locator:
    """Turns a run's artifact URI into a location on one side."""

    def __init__(self, role: str, rest: RestClient, s3: S3Service | None) -> None:
        self.role = role
        self.rest = rest
        self.s3 = s3
        self.s3_unknown: str | None = None  # why there are no S3 keys for this side

    def for_run(self, uri: str, run_id: str) -> Location:
        if is_served(uri):
            return ServedLocation(self.rest, uri)
        if urlparse(uri).scheme == "s3" and self.s3 is not None:
            return S3Location(self.s3, uri)
        if self.role == "source":
            return ProxiedReadLocation(self.rest, uri, run_id)
        raise UserError(self._cannot_write(uri))

    def writable(self, uri: str, run_id: str) -> WritableLocation:
        location = self.for_run(uri, run_id)
        if isinstance(location, S3Location | ServedLocation):
            return location
        raise UserError(self._cannot_write(uri))

    def _cannot_write(self, uri: str) -> str:
        scheme = urlparse(uri).scheme or "a local path"
        if scheme == "s3":
            why = f" ({self.s3_unknown})" if self.s3_unknown else ""
            return (
                f"the target MLflow stores artifacts at {uri}, and the target's S3 keys are "
                f"unknown{why}, so artifacts cannot be written there: set the keys of "
                "env/railway.yml s3 (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or the R2 "
                "ones, in .env) and re-run."
            )
        return (
            f"the target MLflow stores artifacts at {uri} ({scheme}), which only that server "
            "can reach: start it with --default-artifact-root s3://... (or serve artifacts "
            "with --artifacts-destination) and re-run."
        )


def copy_file(
    source: Location,
    target: WritableLocation,
    item: ArtifactFile,
    on_bytes: Callable[[int], None],
    stop: threading.Event,
) -> None:
    """Copy one file: object to object inside one S3 service, else streamed through here."""
    if (
        isinstance(source, S3Location)
        and isinstance(target, S3Location)
        and source.service.config.same_service(target.service.config)
    ):
        target.copy_from(source, item.path, item.size)
        on_bytes(item.size)
        return

    for attempt in range(1, FILE_ATTEMPTS + 1):
        sent = 0
        with source.open(item.path) as chunks:

            def counted(chunks: Iterator[bytes] = chunks) -> Iterator[bytes]:
                nonlocal sent
                for chunk in chunks:
                    if stop.is_set():
                        raise Stopped()
                    sent += len(chunk)
                    on_bytes(len(chunk))
                    yield chunk

            try:
                target.write(item.path, counted(), item.size)
                return
            except MaybeSent as exc:
                on_bytes(-sent)  # the file starts again
                if attempt == FILE_ATTEMPTS:
                    raise UserError(
                        f"writing artifact {item.path} to {target.uri} kept failing ({exc}, "
                        f"{FILE_ATTEMPTS} attempts): see the target server's logs, then re-run "
                        "(what was copied is kept)."
                    ) from None
                if stop.wait(2.0 * attempt):
                    raise Stopped() from None
