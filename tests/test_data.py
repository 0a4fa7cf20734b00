"""Library tests of loading, validating and splitting data (no MLflow involved)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from mlflow_tutorial import data
from mlflow_tutorial.errors import DataError, InvalidParameterError, MltError

# --- built-in data set -------------------------------------------------------------------


def test_builtin_diabetes_is_in_original_units() -> None:
    ds = data.load_dataset()

    assert ds.name == "diabetes"
    assert ds.target == "target"
    assert ds.n_rows == 442
    assert len(ds.features) == 10
    assert "target" not in ds.features
    assert ds.X.shape == (442, 10)
    assert len(ds.y) == 442
    # scaled=False: ages in years, not the mean-centred, unit-norm values of the default
    assert ds.frame["age"].min() >= 18
    assert ds.frame["age"].max() > 1
    assert ds.frame["bmi"].between(15, 50).all()
    assert (ds.frame.dtypes == "float64").all()


def test_none_means_the_builtin_default() -> None:
    ds = data.load_dataset(None)
    assert ds.name == data.DEFAULT_DATASET == "diabetes"
    assert ds.n_rows == 442


def test_builtin_with_explicit_target() -> None:
    ds = data.load_dataset("diabetes", target="bmi")
    assert ds.target == "bmi"
    assert "target" in ds.features and "bmi" not in ds.features
    assert len(ds.features) == 10


def test_unknown_builtin_dataset_is_named() -> None:
    with pytest.raises(DataError, match="'iris'"):
        data.load_dataset("iris")


# --- CSV files -----------------------------------------------------------------------------


def test_comma_csv(write_csv) -> None:
    path = write_csv("small.csv")
    ds = data.load_dataset(path=str(path))

    assert ds.name == "small"
    assert ds.source == str(path.resolve())
    assert ds.target == "y"  # no 'target' column: the last one
    assert ds.features == ["x1", "x2"]
    assert ds.n_rows == 40
    assert (ds.frame.dtypes == "float64").all()


def test_semicolon_csv_reads_like_comma_csv(write_csv) -> None:
    comma = data.load_dataset(path=str(write_csv("comma.csv")))
    semi = data.load_dataset(path=str(write_csv("semi.csv", sep=";")))

    assert semi.features == ["x1", "x2"]
    assert semi.target == "y"
    np.testing.assert_allclose(semi.frame.to_numpy(), comma.frame.to_numpy())


@pytest.mark.parametrize("sep", ["\t", "|"])
def test_tab_and_pipe_csv(write_csv, sep: str) -> None:
    ds = data.load_dataset(path=str(write_csv("other.csv", sep=sep)))
    assert ds.features == ["x1", "x2"]
    assert ds.target == "y"
    assert ds.n_rows == 40


def test_quoted_semicolon_headers_like_uci_wine(tmp_path: Path) -> None:
    path = tmp_path / "winequality-red.csv"
    path.write_text(
        '"fixed acidity";"volatile acidity";"citric acid";"quality"\n'
        "7.4;0.7;0;5\n"
        "7.8;0.88;0;5\n"
        "7.8;0.76;0.04;5\n"
        "11.2;0.28;0.56;6\n"
        "7.4;0.66;0;5\n"
        "7.9;0.6;0.06;5\n"
    )
    ds = data.load_dataset(path=str(path))

    assert ds.name == "winequality-red"
    assert ds.features == ["fixed acidity", "volatile acidity", "citric acid"]
    assert ds.target == "quality"
    assert ds.n_rows == 6
    assert ds.frame["fixed acidity"].iloc[3] == pytest.approx(11.2)


def test_target_column_named_target_is_the_default(write_csv) -> None:
    path = write_csv("t.csv", target=np.arange(40.0), w=np.ones(40))
    ds = data.load_dataset(path=str(path))
    assert ds.target == "target"  # not the last column, w
    assert ds.features == ["x1", "x2", "y", "w"]


def test_target_column_named_target_wins_over_the_last_column(tmp_path: Path) -> None:
    path = tmp_path / "first.csv"
    rows = "\n".join(f"{i},{2 * i},{i % 3}" for i in range(10))
    path.write_text(f"target,a,b\n{rows}\n")
    ds = data.load_dataset(path=str(path))
    assert ds.target == "target"
    assert ds.features == ["a", "b"]


def test_explicit_target_overrides_the_default(write_csv) -> None:
    ds = data.load_dataset(path=str(write_csv()), target="x1")
    assert ds.target == "x1"
    assert ds.features == ["x2", "y"]


def test_path_takes_precedence_over_builtin_name(write_csv) -> None:
    ds = data.load_dataset("diabetes", path=str(write_csv()))
    assert ds.name == "small"
    assert ds.n_rows == 40


def test_file_url(write_csv) -> None:
    path = write_csv("from-url.csv")
    ds = data.load_dataset(path=path.as_uri())
    assert ds.name == "from-url"
    assert ds.source == path.as_uri()
    assert ds.n_rows == 40


def test_utf8_bom_is_not_part_of_the_first_header(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    rows = "\n".join(f"{i},{i * 0.5}" for i in range(8))
    path.write_bytes(("a,b\n" + rows + "\n").encode("utf-8-sig"))
    ds = data.load_dataset(path=str(path))
    assert ds.features == ["a"]
    assert ds.target == "b"


def test_a_file_longer_than_its_checked_head_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    lines = [f"{i};{i % 7};{i * 0.25}" for i in range(20_000)]  # several times HEAD_BYTES
    path.write_text("a;b;c\n" + "\n".join(lines) + "\n")
    assert path.stat().st_size > 3 * data.HEAD_BYTES
    ds = data.load_dataset(path=str(path))
    assert ds.n_rows == 20_000 and ds.features == ["a", "b"]
    assert ds.frame["c"].iloc[-1] == pytest.approx(19_999 * 0.25)


def test_latin1_past_the_head_is_read_as_latin1(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    body = "".join(f"{i},{i * 0.5},{i % 3}\n" for i in range(10_000))
    path.write_bytes(b"x,y,z\n" + body.encode() + b"1,2,\xb5\n")  # not UTF-8 at the end
    # Read (not a parse error), and a number column with a word in it is not a category.
    with pytest.raises(DataError, match="'z' of latin is numbers written as text, but 1 value"):
        data.load_dataset(path=str(path), target="y")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found") as info:
        data.load_dataset(path="no-such-file.csv")
    assert "no-such-file.csv" in info.value.message


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    with pytest.raises(DataError, match="not a file"):
        data.load_dataset(path="folder")


def test_missing_target_column_is_named(write_csv) -> None:
    with pytest.raises(DataError) as info:
        data.load_dataset(path=str(write_csv()), target="quality")
    message = info.value.message
    assert "'quality'" in message
    assert "x1, x2, y" in message  # tells which columns there are


def test_text_feature_column_is_categorical(write_csv) -> None:
    path = write_csv(city=["Lisbon", "Porto"] * 20)
    ds = data.load_dataset(path=str(path), target="y")
    assert ds.report.categorical == ["city"] and ds.report.numeric == ["x1", "x2"]
    assert ds.frame["city"].dtype == object and set(ds.frame["city"]) == {"Lisbon", "Porto"}
    assert ds.task == "regression"


def test_text_target_means_classification(write_csv) -> None:
    path = write_csv(label=["low", "high"] * 20)
    ds = data.load_dataset(path=str(path), target="label")
    assert ds.task == "classification" and ds.report.classes == ["high", "low"]


def test_missing_values_are_counted_by_column(write_csv) -> None:
    x2 = np.arange(40.0)
    x2[[3, 7]] = np.nan
    z = np.ones(40)
    z[5] = np.nan
    path = write_csv(x2=x2, z=z)
    ds = data.load_dataset(path=str(path), target="y")
    assert ds.report.gaps == {"x2": 2, "z": 1}
    assert np.isnan(ds.frame["x2"].iloc[3])  # imputed in the model's Pipeline, not here
    assert any("gaps imputed: x2 (2), z (1)" in line for line in ds.report.lines())


def test_infinite_values_are_named(write_csv) -> None:
    x1 = np.zeros(40)
    x1[0] = np.inf
    with pytest.raises(DataError, match="infinite values.*x1"):
        data.load_dataset(path=str(write_csv(x1=x1)), target="y")


def test_only_a_target_column(tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    path.write_text("y\n1\n2\n3\n4\n5\n")
    with pytest.raises(DataError, match="no feature columns"):
        data.load_dataset(path=str(path))


@pytest.mark.parametrize("content", ["", "\n\n", "   \n"])
def test_empty_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "empty.csv"
    path.write_text(content)
    with pytest.raises(DataError, match="empty"):
        data.load_dataset(path=str(path))


def test_header_only_file_has_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text("a,b,y\n")
    with pytest.raises(DataError, match="no rows"):
        data.load_dataset(path=str(path))


def test_data_errors_are_mlt_errors() -> None:
    with pytest.raises(MltError):
        data.load_dataset(path="missing.csv")


# --- delimiter detection --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a,b,c\n1,2,3\n4,5,6\n", ","),
        ("a;b;c\n1;2;3\n4;5;6\n", ";"),
        ("a\tb\tc\n1\t2\t3\n", "\t"),
        ("a|b|c\n1|2|3\n", "|"),
        ('"fixed acidity";"quality"\n7.4;5\n7.8;5\n', ";"),
        # decimal commas in the body do not make it a comma file
        ("a;b;c\n1,5;2,0;3,25\n4,5;5,5;6,75\n", ";"),
        ("a,b\n", ","),  # header only
        ("a;b\n", ";"),
        ("single\n1\n2\n", ","),  # nothing splits: comma
        ("\n\na;b\n1;2\n", ";"),  # blank lines ignored
    ],
)
def test_sniff_delimiter(text: str, expected: str) -> None:
    assert data.sniff_delimiter(text) == expected


def test_sniff_delimiter_requires_consistent_lines() -> None:
    # the header has more semicolons, but the body does not agree: commas it is
    text = "a;b;c,d\n1,2\n3,4\n"
    assert data.sniff_delimiter(text) == ","


# --- splitting ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n_rows", "test_size", "expected"),
    [(40, 0.25, (30, 10)), (442, 0.25, (331, 111)), (4, 0.5, (2, 2)), (10, 0.3, (7, 3))],
)
def test_check_split_sizes(n_rows: int, test_size: float, expected: tuple[int, int]) -> None:
    assert data.check_split(n_rows, test_size) == expected


@pytest.mark.parametrize(("n_rows", "test_size"), [(3, 0.25), (4, 0.25), (10, 0.9), (1, 0.5)])
def test_check_split_too_few_rows(n_rows: int, test_size: float) -> None:
    with pytest.raises(DataError, match="too few rows") as info:
        data.check_split(n_rows, test_size)
    assert f"{n_rows} rows" in info.value.message


@pytest.mark.parametrize("test_size", [0, 0.0, 1, 1.0, -0.1, 1.5, math.nan])
def test_check_split_bad_test_size(test_size: float) -> None:
    with pytest.raises(InvalidParameterError, match="test size"):
        data.check_split(100, test_size)


def test_check_test_size_accepts_open_interval() -> None:
    data.check_test_size(0.01)
    data.check_test_size(0.99)
    with pytest.raises(InvalidParameterError):
        data.check_test_size(0)


def test_split_sizes_and_disjointness(write_csv) -> None:
    ds = data.load_dataset(path=str(write_csv()))
    parts = data.split(ds, 0.25, 42)

    assert len(parts.X_train) == len(parts.y_train) == 30
    assert len(parts.X_test) == len(parts.y_test) == 10
    assert list(parts.X_train.columns) == ["x1", "x2"]
    assert set(parts.X_train.index).isdisjoint(parts.X_test.index)
    assert set(parts.X_train.index) | set(parts.X_test.index) == set(ds.frame.index)
    assert list(parts.X_train.index) == list(parts.y_train.index)


def test_split_is_reproducible(write_csv) -> None:
    ds = data.load_dataset(path=str(write_csv()))
    first = data.split(ds, 0.25, 7)
    second = data.split(ds, 0.25, 7)
    other = data.split(ds, 0.25, 8)

    assert list(first.X_test.index) == list(second.X_test.index)
    assert list(first.X_test.index) != list(other.X_test.index)


def test_split_refuses_too_few_rows(tmp_path: Path) -> None:
    path = tmp_path / "tiny.csv"
    path.write_text("a,y\n1,2\n2,3\n3,5\n")
    ds = data.load_dataset(path=str(path))
    with pytest.raises(DataError, match="too few rows"):
        data.split(ds, 0.25, 42)


@pytest.mark.parametrize("test_size", [0, 1, -0.5, 2])
def test_split_refuses_bad_test_size(write_csv, test_size: float) -> None:
    ds = data.load_dataset(path=str(write_csv()))
    with pytest.raises(InvalidParameterError):
        data.split(ds, test_size, 42)


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("winequality-red.csv", "winequality-red"),
        ("/data/My Data_v2.CSV", "my-data-v2"),
        ("https://example.org/files/wine.csv?raw=1", "wine"),
    ],
)
def test_dataset_name_from(path: str, name: str) -> None:
    assert data.dataset_name_from(path) == name


@pytest.fixture
def http_dir(tmp_path: Path):
    """A real HTTP server on 127.0.0.1 serving ``tmp_path``; yields its base URL."""
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_http_url(write_csv, http_dir: str) -> None:
    write_csv("remote.csv", sep=";")
    loaded = data.load_dataset(path=f"{http_dir}/remote.csv", target="y")
    assert (loaded.name, loaded.source, loaded.n_rows) == ("remote", f"{http_dir}/remote.csv", 40)
    assert loaded.features == ["x1", "x2"]


def test_http_url_not_found_is_one_line(http_dir: str) -> None:
    with pytest.raises(DataError, match=r"^cannot download http://127\.0\.0\.1:\d+/nope\.csv: "):
        data.load_dataset(path=f"{http_dir}/nope.csv")
