import os

import pandas as pd
import pytest

from resonant_ad.core.io import atomic_path, read_parquet, write_parquet


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.parquet"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half written")
        raise RuntimeError("killed")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_path_replaces_on_success(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    with atomic_path(target) as tmp:
        tmp.write_text("complete")
    assert target.read_text() == "complete"
    assert [p.name for p in target.parent.iterdir()] == ["out.txt"]
    # the permissions of a file created in place, not the temporary file's 0600
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    assert target.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777
    assert os.access(target, os.R_OK)


def test_read_parquet_names_missing_columns(tmp_path):
    path = tmp_path / "t.parquet"
    write_parquet(pd.DataFrame({"m": [1.0]}), path)
    with pytest.raises(KeyError, match=r"t\.parquet.*'score'"):
        read_parquet(path, ["m", "score"])
    with pytest.raises(FileNotFoundError, match=r"nope\.parquet"):
        read_parquet(tmp_path / "nope.parquet")
