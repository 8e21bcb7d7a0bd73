"""The download against a real HTTP server on 127.0.0.1: success, bad md5, truncation, errors."""

from __future__ import annotations

import hashlib
import http.server
import threading
from pathlib import Path
from typing import ClassVar

import pytest

from resonant_ad.core.download import DownloadError, checksum_file, download, md5sum, verify

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB
MD5 = hashlib.md5(PAYLOAD).hexdigest()


class Handler(http.server.BaseHTTPRequestHandler):
    """Serves /good, /truncated (short body), /error (500), /missing (404), /flaky (500 once)."""

    hits: ClassVar[dict[str, int]] = {}

    def log_message(self, *args):  # keep the test output clean
        pass

    def do_GET(self):
        path = self.path.split("?")[0]
        Handler.hits[path] = Handler.hits.get(path, 0) + 1
        if path == "/good" or (path == "/flaky" and Handler.hits[path] > 1):
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD)
        elif path == "/truncated":
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD[: len(PAYLOAD) // 3])
            self.close_connection = True
        elif path in ("/error", "/flaky"):
            self.send_error(500, "server exploded")
        else:
            self.send_error(404, "not here")


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _only(dest: Path) -> list[str]:
    return sorted(p.name for p in dest.parent.iterdir())


def test_success_verifies_and_records_md5(server, tmp_path):
    dest = tmp_path / "features.h5"
    assert download(f"{server}/good", dest, md5=MD5, retries=1, progress=False) == MD5
    assert dest.read_bytes() == PAYLOAD
    assert checksum_file(dest).read_text().split()[0] == MD5
    assert _only(dest) == ["features.h5", "features.h5.md5"]
    assert verify(dest) == MD5


def test_md5_mismatch_names_file_and_both_checksums_and_leaves_nothing(server, tmp_path):
    dest = tmp_path / "features.h5"
    wrong = "0" * 32
    with pytest.raises(DownloadError) as err:
        download(f"{server}/good", dest, md5=wrong, retries=1, progress=False)
    message = str(err.value)
    assert "features.h5" in message and wrong in message and MD5 in message
    assert _only(dest) == []


def test_truncated_body_is_retried_then_reported_and_leaves_nothing(server, tmp_path):
    dest = tmp_path / "features.h5"
    with pytest.raises(DownloadError, match=r"truncated|broke off"):
        download(f"{server}/truncated", dest, md5=MD5, retries=2, backoff=0.01, progress=False)
    assert _only(dest) == []


def test_server_error_is_retried_and_reported(server, tmp_path):
    dest = tmp_path / "x.h5"
    with pytest.raises(DownloadError, match="HTTP 500"):
        download(f"{server}/error", dest, retries=2, backoff=0.01, progress=False)
    assert _only(dest) == []


def test_transient_error_recovers_on_retry(server, tmp_path):
    dest = tmp_path / "x.h5"
    assert (
        download(f"{server}/flaky", dest, md5=MD5, retries=3, backoff=0.01, progress=False) == MD5
    )


def test_mirror_used_when_first_url_fails_permanently(server, tmp_path):
    dest = tmp_path / "x.h5"
    urls = [f"{server}/missing", f"{server}/good"]
    assert download(urls, dest, md5=MD5, retries=1, progress=False) == MD5


def test_without_md5_records_it_warns_and_verifies_later(server, tmp_path, caplog):
    dest = tmp_path / "extra.h5"
    with caplog.at_level("WARNING"):
        got = download(f"{server}/good", dest, md5=None, retries=1, progress=False)
    assert got == MD5 == md5sum(dest)
    assert "no md5 configured" in caplog.text
    verify(dest)  # matches the recorded sidecar
    dest.write_bytes(PAYLOAD[:-1] + b"\x00")  # corrupted after the download
    with pytest.raises(DownloadError, match="md5 mismatch"):
        verify(dest)
