"""A small Orthanc REST client: HTTPS with the practice CA, Basic auth, one keep-alive
connection per thread, streamed downloads. Only the standard library."""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import threading
import urllib.parse
from collections.abc import Iterator
from typing import Any, BinaryIO

from radshield.migrate.config import MigrateError, OrthancConfig, RefusedError

# Statuses that mean "try again" (nginx answers 502/504 while Orthanc restarts).
TRANSIENT_STATUSES = {429, 500, 502, 503, 504}


class OrthancError(MigrateError):
    def __init__(self, message: str, status: int | None = None, transient: bool = False):
        super().__init__(message)
        self.status = status
        self.transient = transient


class OrthancClient:
    def __init__(self, cfg: OrthancConfig):
        self.cfg = cfg
        u = urllib.parse.urlsplit(cfg.url)
        if u.scheme != "https":
            raise RefusedError(
                f"Orthanc URL {cfg.url!r}: only https:// is accepted (PHI in transit)"
            )
        self.host = u.hostname or ""
        self.port = u.port or 443
        self.base = u.path.rstrip("/")
        self.ctx = ssl.create_default_context(cafile=cfg.ca_file)
        self.ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if cfg.client_cert:
            self.ctx.load_cert_chain(cfg.client_cert, cfg.client_key)
        token = base64.b64encode(f"{cfg.user}:{cfg.password}".encode()).decode()
        self._auth = "Basic " + token
        self._local = threading.local()

    # ------------------------------------------------------------------ transport
    def _conn(self) -> http.client.HTTPSConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPSConnection(
                self.host,
                self.port,
                context=self.ctx,
                timeout=self.cfg.timeout,
                blocksize=256 * 1024,
            )
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
            self._local.used = False

    def _send(
        self,
        method: str,
        path: str,
        body: bytes | BinaryIO | None = None,
        ctype: str | None = None,
        size: int | None = None,
    ) -> http.client.HTTPResponse:
        headers = {"Authorization": self._auth, "Accept": "*/*"}
        if ctype:
            headers["Content-Type"] = ctype
        if size is not None:
            headers["Content-Length"] = str(size)
        conn = self._conn()
        reused = getattr(self._local, "used", False)
        try:
            try:
                conn.request(method, self.base + path, body=body, headers=headers)
                resp = conn.getresponse()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # A keep-alive connection the server closed while idle (nginx's
                # keepalive_timeout): sent again once on a new connection, where that is safe
                # (an idempotent method, a body that can be sent twice).
                if not (
                    reused and method in ("GET", "HEAD", "DELETE") and not hasattr(body, "read")
                ):
                    raise
                self.close()
                conn = self._conn()
                conn.request(method, self.base + path, body=body, headers=headers)
                resp = conn.getresponse()
            self._local.used = True
            return resp
        except ssl.SSLCertVerificationError as exc:
            self.close()
            raise RefusedError(
                f"PACS certificate of {self.host}:{self.port} is not trusted "
                f"(CA {self.cfg.ca_file or 'system store'}): {exc.verify_message}"
            ) from exc
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise OrthancError(
                f"Orthanc {self.host}:{self.port} unreachable: {type(exc).__name__}: {exc}",
                transient=True,
            ) from exc

    def _check(self, resp: http.client.HTTPResponse, method: str, path: str) -> None:
        if resp.status < 400:
            return
        resp.read()
        if resp.status == 401:
            raise RefusedError(
                f"Orthanc refused the credentials of user {self.cfg.user!r} (HTTP 401)"
            )
        if resp.status == 403:
            raise RefusedError(f"Orthanc user {self.cfg.user!r} may not {method} {path} (HTTP 403)")
        raise OrthancError(
            f"Orthanc {method} {path}: HTTP {resp.status}",
            status=resp.status,
            transient=resp.status in TRANSIENT_STATUSES,
        )

    def request(
        self,
        method: str,
        path: str,
        body: bytes | BinaryIO | None = None,
        ctype: str | None = None,
        size: int | None = None,
    ) -> bytes:
        resp = self._send(method, path, body, ctype, size)
        try:
            self._check(resp, method, path)
            return resp.read()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise OrthancError(f"Orthanc {method} {path}: {exc}", transient=True) from exc

    def get_json(self, path: str) -> Any:
        return json.loads(self.request("GET", path))

    def post_json(self, path: str, payload: Any) -> Any:
        body = payload if isinstance(payload, bytes | str) else json.dumps(payload)
        data = body.encode() if isinstance(body, str) else body
        return json.loads(self.request("POST", path, data, "application/json"))

    def stream(self, path: str, chunk: int = 1024 * 1024) -> Iterator[bytes]:
        """Yield the body of a GET in chunks (never the whole file in memory)."""
        resp = self._send("GET", path)
        self._check(resp, "GET", path)
        try:
            while True:
                data = resp.read(chunk)
                if not data:
                    break
                yield data
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise OrthancError(f"Orthanc GET {path}: {exc}", transient=True) from exc

    # ------------------------------------------------------------------ API
    def system(self) -> dict:
        return self.get_json("/system")

    def preflight(self) -> dict:
        """/system with a clear refusal for bad credentials, an untrusted or absent PACS."""
        try:
            info = self.system()
        except RefusedError:
            raise
        except OrthancError as exc:
            raise RefusedError(f"PACS unreachable at {self.cfg.url}: {exc}") from exc
        except (TimeoutError, ssl.SSLError) as exc:
            raise RefusedError(f"PACS TLS handshake with {self.cfg.url} failed: {exc}") from exc
        return info

    def last_change(self) -> int:
        data = self.get_json("/changes?last")
        return int(data.get("Last", 0))

    def changes(self, since: int, limit: int = 1000) -> dict:
        return self.get_json(f"/changes?since={since}&limit={limit}")

    def studies_page(self, since: int, limit: int) -> list[str]:
        return self.get_json(f"/studies?since={since}&limit={limit}")

    def study(self, orthanc_id: str) -> dict:
        return self.get_json(f"/studies/{orthanc_id}")

    def study_series(self, orthanc_id: str) -> list[dict]:
        return self.get_json(f"/studies/{orthanc_id}/series")

    def study_instances(self, orthanc_id: str) -> list[dict]:
        return self.get_json(f"/studies/{orthanc_id}/instances")

    def instance(self, orthanc_id: str) -> dict:
        return self.get_json(f"/instances/{orthanc_id}")

    def series(self, orthanc_id: str) -> dict:
        return self.get_json(f"/series/{orthanc_id}")

    def instance_md5(self, orthanc_id: str) -> str:
        return (
            self.request("GET", f"/instances/{orthanc_id}/attachments/dicom/md5").decode().strip()
        )

    def instance_file(self, orthanc_id: str) -> Iterator[bytes]:
        return self.stream(f"/instances/{orthanc_id}/file")

    def lookup(self, uid: str) -> list[dict]:
        return json.loads(self.request("POST", "/tools/lookup", uid.encode(), "text/plain"))

    def upload(self, body: BinaryIO | bytes, size: int | None = None) -> dict:
        return json.loads(self.request("POST", "/instances", body, "application/dicom", size))

    def delete(self, level: str, orthanc_id: str) -> None:
        self.request("DELETE", f"/{level}/{orthanc_id}")
