"""The ``mlruns`` layout as MLflow 3.x writes it, and the low-level file operations on it.

::

    <root>/
      .trash/<experiment_id>/...          deleted experiments, moved whole
      .trackstore-run-index               trackstore's side file: "<run_id> <experiment_id>" lines
      <experiment_id>/meta.yaml
      <experiment_id>/tags/<key>          experiment tags; "/" in a key makes sub-directories
      <experiment_id>/datasets/<dataset_id>/meta.yaml
      <experiment_id>/<run_id>/meta.yaml
      <experiment_id>/<run_id>/{metrics,params,tags}/<key>
      <experiment_id>/<run_id>/artifacts/
      <experiment_id>/<run_id>/inputs/<input_id>/meta.yaml

Every write that replaces a file is atomic (temporary file in the same directory, then
``rename``): a crash leaves the old content or the new, never an empty or partial file.
Side files are plain files at the root: MLflow lists directories only, so it ignores them.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
import uuid
from collections.abc import Iterator

from ...exceptions import INVALID_PARAMETER_VALUE, INVALID_STATE, TrackstoreError

TRASH = ".trash"
META = "meta.yaml"
METRICS = "metrics"
PARAMS = "params"
TAGS = "tags"
ARTIFACTS = "artifacts"
INPUTS = "inputs"
DATASETS = "datasets"
DEFAULT_EXPERIMENT_ID = "0"
RUN_INDEX = ".trackstore-run-index"
#: ``<root>/.trackstore-gc-<pid>-<token>``: the folders a gc process is removing (see
#: ``FileStore.finish_interrupted_gc``).
GC_JOURNAL = ".trackstore-gc-"
#: Sub-directories of an experiment that are not runs.
RESERVED_EXPERIMENT_FOLDERS = frozenset({"tags", "datasets", "traces", "models"})
#: Top-level directories that are not experiments (the file model registry lives in models/).
RESERVED_ROOT_FOLDERS = frozenset({TRASH, "models"})

#: TRACKSTORE_FSYNC=1: sync meta.yaml before the rename that publishes it, so it survives a
#: power loss too. Off by default: a rename is already atomic for every process crash, and on
#: this kind of machine an fsync costs more than everything else a new run does.
_FSYNC = os.environ.get("TRACKSTORE_FSYNC", "0").strip().lower() in ("1", "true", "yes")
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def new_experiment_id() -> str:
    """An 18-digit random id, as MLflow >= 2.0 generates them (never starts with 0)."""
    digits = str(uuid.uuid4().int)[-18:]
    stripped = digits.lstrip("0")
    pad = "".join(str(secrets.randbelow(10)) for _ in range(len(digits) - len(stripped)))
    return (stripped + pad) if stripped else str(secrets.randbelow(9) + 1) + "0" * 17


def new_run_id() -> str:
    return uuid.uuid4().hex


def read_with_stat(path: str) -> tuple[bytes, os.stat_result]:
    """The whole file and its ``fstat``, with the fewest syscalls Python allows."""
    fd = os.open(path, os.O_RDONLY | _O_CLOEXEC)
    try:
        st = os.fstat(fd)
        size = st.st_size
        data = os.read(fd, size + 1) if size else os.read(fd, 65536)
        if len(data) <= size or not data:
            return data, st
        chunks = [data]
        while True:  # the file grew while we read it
            more = os.read(fd, 1 << 20)
            if not more:
                return b"".join(chunks), st
            chunks.append(more)
    finally:
        os.close(fd)


def read_bytes(path: str) -> bytes:
    """The whole file (no buffered file object: one open, fstat, read and close)."""
    return read_with_stat(path)[0]


def read_text(path: str) -> str:
    return read_bytes(path).decode("utf-8")


#: The most bytes of a file's name its temporary file's name repeats: with the pid and the
#: random part, the temporary name stays within the 255 bytes of a name (``NAME_MAX``).
_TMP_TAIL_BYTES = 200


def _tmp_name(path: str, tmp_dir: str | None) -> str:
    head, tail = os.path.split(path)
    tail = tail.replace("/", "_")
    if len(tail) > _TMP_TAIL_BYTES // 4:  # (a character is at most 4 bytes in UTF-8)
        tail = tail.encode("utf-8", "surrogateescape")[:_TMP_TAIL_BYTES].decode(
            "utf-8", "ignore")
    return os.path.join(tmp_dir or head, f".{tail}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def write_atomic(path: str, data: bytes, *, tmp_dir: str | None = None,
                 fsync: bool = _FSYNC) -> None:
    """Replace *path* with *data* atomically (temp file, then ``rename``); with *fsync* the
    content is on disk before the rename publishes it.

    The temp file lives in *tmp_dir* (default: next to *path*), which must be on the same
    filesystem. Keys' folders get their temp files from the owning run or experiment directory,
    where MLflow never lists files, so no reader ever sees a half-made key.
    """
    tmp = _tmp_name(path, tmp_dir)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_CLOEXEC, 0o666)
    try:
        _write_all(fd, data)
        if fsync:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        _unlink_quietly(tmp)
        raise
    os.close(fd)
    try:
        os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise


def create_exclusive(path: str, data: bytes, *, tmp_dir: str | None = None) -> bool:
    """Create *path* holding *data* unless it exists; True if created.

    Readers never see a partial file: the content is written to a temp file that is then
    hard-linked into place, which fails if the name is taken.
    """
    tmp = _tmp_name(path, tmp_dir)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_CLOEXEC, 0o666)
    try:
        _write_all(fd, data)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV):
            raise
        # A filesystem without hard links: fall back to O_EXCL creation of the final name.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_CLOEXEC, 0o666)
        except FileExistsError:
            return False
        try:
            _write_all(fd, data)
        finally:
            os.close(fd)
        return True
    finally:
        _unlink_quietly(tmp)


def create_new(path: str, data: bytes) -> None:
    """Write a file that must not exist yet, in place (for files no reader can see yet)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_CLOEXEC, 0o666)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_CLOEXEC, 0o666)
    try:
        _write_all(fd, data)
    finally:
        os.close(fd)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def list_dirs(path: str) -> list[str]:
    """Names of the sub-directories of *path* ([] if it does not exist)."""
    try:
        with os.scandir(path) as it:
            return [e.name for e in it if e.is_dir()]
    except (FileNotFoundError, NotADirectoryError):
        return []


def walk_keys(folder: str) -> Iterator[tuple[str, str]]:
    """(key, path) for every file under *folder*; a key's "/" are sub-directories.

    Symbolic links are not keys (the store never makes one): one planted in the tree (or
    *folder* itself, a link) could lead anywhere, so it is skipped, neither followed nor read.
    """
    if os.path.islink(folder):
        return
    stack = [("", folder)]
    while stack:
        prefix, path = stack.pop()
        try:
            it = os.scandir(path)
        except (FileNotFoundError, NotADirectoryError):
            continue
        with it:
            for entry in it:
                name = entry.name
                if entry.is_symlink():
                    continue
                if entry.is_dir(follow_symlinks=False):
                    stack.append((prefix + name + "/", entry.path))
                else:
                    yield prefix + name, entry.path


#: The most bytes of one file name (``NAME_MAX`` of the usual Linux, macOS and Windows file
#: systems).
NAME_MAX_BYTES = 255


def key_path(folder: str, key: str) -> str:
    """The file of *key* under *folder* (``<run>/params`` etc.; the key is already validated:
    no ``..``, no ``/`` at either end), checked to stay there.

    A key is a client's name: its file must be an ordinary file in ordinary directories of
    the store. A key whose name (or a part between ``/``) is longer than a file name may be
    is ``INVALID_PARAMETER_VALUE``; a symbolic link on its way (the folder, a sub-directory
    of the key, or its file), which the store never makes and which could lead out of the
    store, is ``INVALID_STATE``: the key is neither read nor written through it.
    """
    parts = key.split("/")
    if len(key) > NAME_MAX_BYTES // 4:  # (a character is at most 4 bytes in UTF-8)
        for part in parts:
            if len(part.encode("utf-8", "surrogateescape")) > NAME_MAX_BYTES:
                raise TrackstoreError(
                    f"Invalid key {key!r}: the file store keeps a key as a file, and "
                    f"{part[:20]!r}... is longer than a file name may be ({NAME_MAX_BYTES} "
                    "bytes in UTF-8)", INVALID_PARAMETER_VALUE)
    path = os.path.join(folder, *parts)
    for step in (folder, *(os.path.join(folder, *parts[:n]) for n in range(1, len(parts))),
                 path):
        try:
            linked = stat.S_ISLNK(os.lstat(step).st_mode)
        except (FileNotFoundError, NotADirectoryError):
            break  # (nothing further down exists either)
        if linked:
            raise TrackstoreError(
                f"Refusing to follow a symbolic link on the way to key {key!r}: the store "
                "never makes links, and one could lead out of the store", INVALID_STATE)
    return path


def remove_tree(path: str) -> None:
    """Remove the run or experiment directory *path* for good, its ``meta.yaml`` last.

    Until that file goes, the directory is still the deleted run (or experiment) it was, so
    a removal interrupted half-way (a crash, a kill) is simply done again by the next
    ``gc``; after it, only the empty directory is left for a moment, which no reader takes
    for a run. A path already gone is not an error.
    """
    import shutil

    meta = os.path.join(path, META)
    try:
        names = os.listdir(path)
    except FileNotFoundError:
        return
    for name in names:
        child = os.path.join(path, name)
        if child == meta:
            continue
        if os.path.isdir(child) and not os.path.islink(child):
            try:
                shutil.rmtree(child)
            except FileNotFoundError:  # something in it vanished meanwhile: finish the rest
                if os.path.lexists(child):
                    shutil.rmtree(child)
        else:
            _unlink_quietly(child)
    _unlink_quietly(meta)
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass



def process_gone(pid: int) -> bool:
    """Whether no process *pid* runs (on this machine) any more."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # it exists, owned by someone else
        return False
    return False


def stale_temp_pid(name: str) -> int | None:
    """The writer's pid of a temporary file this module names (``.<name>.<pid>.<hex>.tmp``),
    or None for any other name."""
    parts = name.split(".")
    if len(parts) >= 5 and name.startswith(".") and parts[-1] == "tmp" and parts[-3].isdigit():
        return int(parts[-3])
    return None
