import os

import pytest

from digitrec.atomic import atomic_write, atomic_write_text


def test_replaces_only_on_success_and_leaves_no_temp_files(tmp_path):
    target = tmp_path / "out.txt"
    atomic_write_text(target, "old")
    with pytest.raises(RuntimeError):
        with atomic_write(target, "w") as handle:
            handle.write("half of the new")
            raise RuntimeError("killed mid-write")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.txt"]
    atomic_write_text(target, "new")
    assert target.read_text() == "new" and os.listdir(tmp_path) == ["out.txt"]


def test_files_get_the_usual_permissions(tmp_path):
    atomic_write_text(tmp_path / "f", "x")
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "f").stat().st_mode & 0o777 == 0o666 & ~umask


def test_errors_name_the_path_asked_for_not_the_temp_file(tmp_path, monkeypatch):
    import errno
    import tempfile

    def read_only_folder(prefix, suffix, dir):  # as a non-root user in a read-only folder
        name = os.path.join(dir, f"{prefix}lmnoe5a7{suffix}")
        raise PermissionError(errno.EACCES, "Permission denied", name)

    with monkeypatch.context() as patch:
        patch.setattr(tempfile, "mkstemp", read_only_folder)
        with pytest.raises(PermissionError) as caught:
            atomic_write_text(tmp_path / "sub.csv", "x")
    assert caught.value.filename == str(tmp_path / "sub.csv")

    target = tmp_path / "out.txt"
    atomic_write_text(target, "old")

    def full_disk(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError) as caught:
        with atomic_write(target, "w") as handle:
            monkeypatch.setattr(handle, "write", full_disk)
            handle.write("new")
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(target)
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["out.txt"]


def test_an_interrupt_mid_write_leaves_no_temp_file_and_stale_ones_are_found(tmp_path):
    from digitrec.atomic import atomic_path, remove_stale_temps

    with pytest.raises(KeyboardInterrupt):  # what Ctrl-C and (in the CLI) SIGTERM raise
        with atomic_path(tmp_path / "misclassified.png") as tmp:
            tmp.write_bytes(b"")
            raise KeyboardInterrupt
    assert os.listdir(tmp_path) == []
    (tmp_path / ".last.k2j4m9x1.tmp.pt").write_bytes(b"half")  # what SIGKILL leaves
    (tmp_path / ".hidden").write_text("mine")
    (tmp_path / "last.pt").write_bytes(b"x")
    assert [p.name for p in remove_stale_temps(tmp_path)] == [".last.k2j4m9x1.tmp.pt"]
    assert sorted(os.listdir(tmp_path)) == [".hidden", "last.pt"]
