"""A local stand-in for the Hugging Face Hub's HTTP API, for tests.

`LocalHub` serves, over plain HTTP on 127.0.0.1, the part of the API that the unpatched
`huggingface_hub` client (2.4.0) uses to read repos: repo info, tree listings, paths-info and
`/resolve/` downloads (HEAD and ranged GET). Point the client at it with `endpoint=hub.endpoint`.
Only the standard library is used. Hub behaviours mirrored on purpose:

* errors carry `X-Error-Code` (RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo), which is
  what the client maps to its exception classes; an unknown repo is 401 without a token, 404 with;
* files at or above `lfs_threshold` bytes look like LFS files: sha256 ETag and `lfs` metadata,
  smaller ones get the git blob sha1 as ETag;
* no Xet headers (`X-Xet-Hash` ...) are ever sent, so the client uses plain HTTP, and files are
  served directly (no redirect to a CDN), which the client accepts.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

KINDS = {"models": "model", "datasets": "dataset"}
# /api/{models|datasets}/{repo_id}[/{revision|tree|paths-info}/{rev}[/{path}]], still %-encoded.
_API = re.compile(
    r"^/api/(models|datasets)/([^/]+(?:/[^/]+)?)"
    r"(?:/(revision|tree|paths-info)/([^/]+)(?:/(.*))?)?$"
)
# /[datasets/]{repo_id}/resolve/{rev}/{path}
_RESOLVE = re.compile(r"^/(?:(datasets)/)?([^/]+(?:/[^/]+)?)/resolve/([^/]+)/(.+)$")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@dataclass(frozen=True)
class _Blob:
    data: bytes
    lfs: bool
    sha256: str
    oid: str  # git blob sha1 of what git stores: the content, or the LFS pointer file

    @classmethod
    def of(cls, data: bytes, lfs: bool) -> _Blob:
        sha256 = hashlib.sha256(data).hexdigest()
        stored = _pointer(sha256, len(data)) if lfs else data
        return cls(data, lfs, sha256, hashlib.sha1(b"blob %d\0" % len(stored) + stored).hexdigest())

    @property
    def etag(self) -> str:
        return self.sha256 if self.lfs else self.oid

    @property
    def lfs_info(self) -> dict:
        pointer_size = len(_pointer(self.sha256, len(self.data)))
        return {"oid": self.sha256, "size": len(self.data), "pointerSize": pointer_size}


def _pointer(sha256: str, size: int) -> bytes:
    """The git-lfs pointer file that git stores in place of an LFS file."""
    return (
        f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()
    )


@dataclass
class _Repo:
    branches: dict[str, str] = field(default_factory=dict)
    commits: dict[str, dict[str, _Blob]] = field(default_factory=dict)
    dates: dict[str, str] = field(default_factory=dict)
    gate: tuple[str, bool] | None = None  # (token, files_only)


class LocalHub:
    """Context manager; starts on __enter__ (or start()), stops on __exit__ (or stop())."""

    def __init__(self, lfs_threshold: int = 10 * 1024 * 1024, tree_page_size: int = 1000):
        self.lfs_threshold = lfs_threshold
        self.tree_page_size = tree_page_size
        self.endpoint = ""
        # Each entry: method, path (raw, with query), headers (lower-cased names), status.
        self.requests: list[dict] = []
        self._repos: dict[tuple[str, str], _Repo] = {}
        self._failures: list[dict] = []
        self._truncations: list[dict] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> LocalHub:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.hub = self  # type: ignore[attr-defined]
        self._server.block_on_close = False  # idle keep-alive connections must not block stop()
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        # A short poll interval keeps stop() (which waits for the next poll) fast.
        serve = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
        serve.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> LocalHub:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- content ---------------------------------------------------------------------------
    def add_repo(self, repo_id: str, folder, repo_type: str = "model", branch: str = "main") -> str:
        """Snapshot every file under `folder` as a new commit on `branch`; return its sha."""
        root = Path(folder)
        paths = [p for p in root.rglob("*") if p.is_file()]
        files = {p.relative_to(root).as_posix(): p.read_bytes() for p in paths}
        return self.add_files(repo_id, files, repo_type=repo_type, branch=branch)

    def add_files(self, repo_id, files: dict[str, bytes], repo_type="model", branch="main") -> str:
        """Commit exactly `files` (path -> bytes) on `branch`; return the commit sha."""
        if repo_type not in KINDS.values():
            raise ValueError(f"unsupported repo_type {repo_type!r}")
        with self._lock:
            repo = self._repos.setdefault((repo_type, repo_id), _Repo())
            parent = repo.branches.get(branch, "")
            digest = hashlib.sha1(parent.encode())
            for path in sorted(files):
                digest.update(b"%s\0%d\0" % (path.encode(), len(files[path])) + files[path])
            sha = digest.hexdigest()
            repo.commits[sha] = {
                path: _Blob.of(bytes(data), len(data) >= self.lfs_threshold)
                for path, data in sorted(files.items())
            }
            repo.dates[sha] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            repo.branches[branch] = sha
        return sha

    def set_gated(
        self, repo_id: str, repo_type: str = "model", token: str = "hf_test_token", files_only=True
    ) -> None:
        """Requests without `Authorization: Bearer <token>` get 401 GatedRepo. As on the Hub,
        only file downloads (/resolve/) are gated unless `files_only=False`: repo info and
        tree listings stay public and report `gated: "manual"`."""
        with self._lock:
            self._repos[(repo_type, repo_id)].gate = (token, files_only)

    def fail_next(
        self,
        status: int,
        count: int = 1,
        path_contains: str = "",
        retry_after: float | None = None,
        method: str | None = None,
    ) -> None:
        """The next `count` requests whose path contains `path_contains` (and of `method`, if
        given) get `status`, with Retry-After when given (the client only reads whole seconds)."""
        rule = {"status": status, "left": count, "path": path_contains, "method": method}
        with self._lock:
            self._failures.append(rule | {"retry_after": retry_after})

    def truncate_next(self, path_contains: str, nbytes: int, count: int = 1) -> None:
        """The next `count` GETs of a matching file send only `nbytes` bytes of body, then
        close the connection (Content-Length still announces the full body)."""
        with self._lock:
            self._truncations.append({"path": path_contains, "nbytes": nbytes, "left": count})

    def _take(self, rules: list[dict], path: str, method: str) -> dict | None:
        """Consume one use of the first rule matching this request, if any."""
        with self._lock:
            for rule in rules:
                if rule["path"] in path and rule.get("method") in (None, method):
                    rule["left"] -= 1
                    if rule["left"] <= 0:
                        rules.remove(rule)
                    return rule
        return None

    # -- JSON payloads ----------------------------------------------------------------------
    @staticmethod
    def _file_entry(path: str, blob: _Blob) -> dict:
        entry = {"type": "file", "oid": blob.oid, "size": len(blob.data), "path": path}
        if blob.lfs:
            entry["lfs"] = blob.lfs_info
        return entry

    @staticmethod
    def _dir_entry(path: str, files: dict[str, _Blob]) -> dict:
        inner = "".join(f"{p}\0{b.oid}\n" for p, b in files.items() if p.startswith(path + "/"))
        oid = hashlib.sha1(inner.encode()).hexdigest()
        return {"type": "directory", "oid": oid, "size": 0, "path": path}

    def _tree(self, files: dict[str, _Blob], base: str, recursive: bool) -> list[dict] | None:
        """Entries under folder `base` ("" = root): direct children, or everything if recursive."""
        prefix = f"{base}/" if base else ""
        entries: dict[str, dict] = {}
        for path, blob in files.items():
            if not path.startswith(prefix):
                continue
            parts = path[len(prefix) :].split("/")
            depth = len(parts) if recursive else 1
            for i in range(1, min(depth, len(parts) - 1) + 1):  # folders on the way
                folder = prefix + "/".join(parts[:i])
                entries.setdefault(folder, self._dir_entry(folder, files))
            if recursive or len(parts) == 1:
                entries[path] = self._file_entry(path, blob)
        if not entries and base:
            return None
        return [entries[p] for p in sorted(entries)]

    def _path_info(self, files: dict[str, _Blob], path: str) -> dict | None:
        """The entry for one file or folder, None if the path does not exist (paths-info)."""
        if path in files:
            return self._file_entry(path, files[path])
        if any(p.startswith(path + "/") for p in files):
            return self._dir_entry(path, files)
        return None

    def _info(self, kind: str, repo_id: str, repo: _Repo, sha: str, blobs: bool) -> dict:
        siblings = []
        for path, blob in repo.commits[sha].items():
            sibling: dict = {"rfilename": path}
            if blobs:
                sibling.update(size=len(blob.data), blobId=blob.oid)
                if blob.lfs:  # repo info names the LFS hash `sha256`, the tree listing `oid`
                    lfs = blob.lfs_info
                    sibling["lfs"] = {"sha256": lfs.pop("oid"), **lfs}
            siblings.append(sibling)
        return {
            "_id": hashlib.sha1(f"{kind}/{repo_id}".encode()).hexdigest()[:24],
            "id": repo_id,
            "author": repo_id.split("/")[0] if "/" in repo_id else None,
            "sha": sha,
            "lastModified": repo.dates[sha],
            "createdAt": min(repo.dates.values()),
            "private": False,
            "gated": "manual" if repo.gate else False,
            "disabled": False,
            "downloads": 0,
            "likes": 0,
            "tags": [],
            "siblings": siblings,
        }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the client's connection pool expects

    def log_message(self, format, *args) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:
        self._handle()

    do_HEAD = do_POST = do_GET

    def _send(self, status: int, body: bytes = b"", headers: dict | None = None, limit=None):
        """Send a response; with `limit`, announce the whole body but send only `limit` bytes of
        it and hang up, as an interrupted download does."""
        self.entry["status"] = status
        self.send_response(status)
        headers = {"Content-Type": "application/json", **(headers or {})}
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body[:limit])
        if limit is not None:
            self.wfile.flush()
            self.close_connection = True

    def _error(self, status: int, code: str | None, message: str, headers: dict | None = None):
        extra = {"X-Error-Message": message, **({"X-Error-Code": code} if code else {})}
        self._send(status, json.dumps({"error": message}).encode(), {**extra, **(headers or {})})

    def _handle(self) -> None:
        hub: LocalHub = self.server.hub  # type: ignore[attr-defined]
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.entry = {"method": self.command, "path": self.path, "headers": headers}
        with hub._lock:
            hub.requests.append(self.entry)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""  # always drain, to keep the connection

        failure = hub._take(hub._failures, self.path, self.command)
        if failure is not None:
            after = failure["retry_after"]
            extra = {} if after is None else {"Retry-After": f"{after:g}"}
            return self._error(failure["status"], None, "Injected failure", extra)

        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if api := _API.match(url.path):
            kinds, repo_id, action, rev, sub = api.groups()
            kind, action = KINDS[kinds], action or "revision"
        elif resolve := _RESOLVE.match(url.path):
            kinds, repo_id, rev, sub = resolve.groups()
            kind, action = KINDS[kinds or "models"], "resolve"
        else:
            return self._error(404, None, "Unknown endpoint")
        repo_id, rev, sub = unquote(repo_id), unquote(rev or "main"), unquote(sub or "")

        repo = hub._repos.get((kind, repo_id))
        auth = headers.get("authorization")
        if repo is None:  # the Hub answers 401 to anonymous callers, so as not to leak names
            return self._error(404 if auth else 401, "RepoNotFound", "Repository not found")
        if repo.gate and auth != f"Bearer {repo.gate[0]}":
            if action == "resolve" or not repo.gate[1]:
                return self._error(401, "GatedRepo", "Access to this repo is restricted")
        sha = repo.branches.get(rev) or (rev if rev in repo.commits else None)
        if sha is None:
            return self._error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
        files = repo.commits[sha]

        if action == "revision" and not sub:
            blobs = query.get("blobs", ["false"])[0] == "true"
            return self._json(hub._info(kind, repo_id, repo, sha, blobs))
        if action == "tree":
            return self._tree(hub, files, sub, query)
        if action == "paths-info" and self.command == "POST":
            form = json.loads(body) if body.startswith(b"{") else parse_qs(body.decode())
            paths = form.get("paths", [])
            paths = [paths] if isinstance(paths, str) else paths
            return self._json([e for p in paths if (e := hub._path_info(files, p.strip("/")))])
        if action == "resolve":
            if sub not in files:
                commit = {"X-Repo-Commit": sha}
                return self._error(404, "EntryNotFound", f"{sub} does not exist", commit)
            return self._file(hub, files[sub], sha)
        return self._error(404, None, "Unknown endpoint")

    def _json(self, payload, headers: dict | None = None) -> None:
        self._send(200, json.dumps(payload).encode(), headers)

    def _tree(self, hub: LocalHub, files: dict[str, _Blob], base: str, query: dict) -> None:
        entries = hub._tree(files, base.strip("/"), query.get("recursive", ["false"])[0] == "true")
        if entries is None:
            return self._error(404, "EntryNotFound", f"{base} does not exist")
        # Cursor pagination through a Link header, which the client follows as-is.
        start = int(query.get("cursor", ["0"])[0])
        end = start + hub.tree_page_size
        headers = {}
        if end < len(entries):
            params = {k: v[0] for k, v in query.items()} | {"cursor": str(end)}
            url = f"{hub.endpoint}{urlsplit(self.path).path}?{urlencode(params)}"
            headers["Link"] = f'<{url}>; rel="next"'
        self._json(entries[start:end], headers)

    def _file(self, hub: LocalHub, blob: _Blob, sha: str) -> None:
        size, start, end = len(blob.data), 0, len(blob.data) - 1
        headers = {
            "Content-Type": "application/octet-stream",
            "X-Repo-Commit": sha,
            "ETag": f'"{blob.etag}"',
            "Accept-Ranges": "bytes",
        }
        status = 200
        if (requested := self.headers.get("Range")) is not None:
            match = _RANGE.match(requested.replace(" ", ""))
            if match is None or match.groups() == ("", ""):
                return self._error(416, None, "Bad range", {"Content-Range": f"bytes */{size}"})
            first, last = match.groups()
            if first:
                start, end = int(first), min(int(last), end) if last else end
            else:  # suffix range: the last N bytes
                start = max(size - int(last), 0)
            if start > end:
                return self._error(416, None, "Bad range", {"Content-Range": f"bytes */{size}"})
            status, headers["Content-Range"] = 206, f"bytes {start}-{end}/{size}"
        body = blob.data[start : end + 1]
        cut = hub._take(hub._truncations, self.path, "GET") if self.command == "GET" else None
        self._send(status, body, headers, limit=None if cut is None else cut["nbytes"])
