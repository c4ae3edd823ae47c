"""Accounts for the web app: scrypt password hashes, the session secret, login rate limiting.

- Passwords are hashed with ``hashlib.scrypt`` (memory-hard: n=2**14, r=8, p=1 uses 16 MiB),
  a random 16-byte salt each, stored as ``scrypt$n$r$p$salt_b64$hash_b64`` in
  ``users.password_hash``; checked with ``hmac.compare_digest``.
- The session cookie is signed with a secret generated once per workspace and kept in the
  ``workspace_settings`` table (key ``web_session_secret``): every server on the same database
  accepts the same sessions, and replacing the row logs everybody out.
- Failed logins are counted per (user name, client address) in memory: ``MAX_FAILURES`` within
  ``WINDOW_S`` seconds lock that pair out until the window passes (one process; behind several
  workers each counts on its own - see docs/webapp.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections import defaultdict, deque

from sqlalchemy import insert, select, update

from qa_scorer.workspace import schema as S
from qa_scorer.workspace.events import log_event

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 14, 8, 1
SALT_BYTES, KEY_BYTES = 16, 32
SECRET_KEY = "web_session_secret"
MIN_PASSWORD = 8


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    salt = secrets.token_bytes(SALT_BYTES)
    key = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=KEY_BYTES,
                         maxmem=256 * 1024 * 1024)
    b64 = lambda b: base64.b64encode(b).decode("ascii")  # noqa: E731
    return f"scrypt${n}${r}${p}${b64(salt)}${b64(key)}"


def verify_password(password: str, stored: str | None) -> bool:
    """True if ``password`` matches ``stored``; False for no hash, a malformed one or a mismatch."""
    if not stored or not isinstance(password, str):
        return False
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        n, r, p = int(n), int(r), int(p)
        salt, key = base64.b64decode(salt, validate=True), base64.b64decode(key, validate=True)
        if len(key) != KEY_BYTES or len(salt) < SALT_BYTES or not (2 <= n <= 2 ** 20 and 1 <= r <= 32 and 1 <= p <= 16):
            return False
        got = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=len(key),
                             maxmem=256 * 1024 * 1024)
    except (ValueError, TypeError, MemoryError):
        return False
    return hmac.compare_digest(got, key)


def hash_fingerprint(stored: str | None) -> str:
    """A short digest of the stored hash: kept in the session, so changing a password ends the
    user's other sessions."""
    return hashlib.sha256((stored or "").encode()).hexdigest()[:16]


def set_password(ws, name: str, password: str, *, actor: str | None = None) -> None:
    """Set ``name``'s password (the user must exist and be active); logs ``user_passwd``."""
    from qa_scorer.i18n import _
    from qa_scorer.workspace.db import WorkspaceError

    if len(password or "") < MIN_PASSWORD:
        raise WorkspaceError(_("a password needs at least {n} characters").format(n=MIN_PASSWORD))
    hashed = hash_password(password)
    with ws.begin() as conn:
        user = ws.user(name, conn)
        conn.execute(update(S.users).where(S.users.c.id == user["id"]).values(password_hash=hashed))
        log_event(conn, "user_passwd", actor=actor or name, data={"name": name})


def authenticate(ws, name: str, password: str) -> dict | None:
    """The active user ``name`` if ``password`` is theirs, else None (same work either way)."""
    with ws.engine.connect() as conn:
        row = conn.execute(select(S.users).where(S.users.c.name == (name or "").strip())).mappings().first()
    stored = row["password_hash"] if row else None
    if not stored:
        # spend the same time as a real check, so a missing user does not answer faster
        verify_password(password or "", _DUMMY_HASH)
        return None
    if not verify_password(password or "", stored) or not row["active"]:
        return None
    return dict(row)


_DUMMY_HASH = hash_password(secrets.token_hex(8))


def session_secret(ws) -> str:
    """The workspace's session-signing secret, created on first use."""
    t = S.workspace_settings
    with ws.begin() as conn:
        value = conn.execute(select(t.c.value).where(t.c.key == SECRET_KEY)).scalar()
        if value:
            return value
        value = secrets.token_urlsafe(48)
        conn.execute(insert(t).values(key=SECRET_KEY, value=value))
    return value


class LoginLimiter:
    """At most ``max_failures`` failed logins per (name, address) within ``window_s`` seconds."""

    def __init__(self, max_failures: int = 10, window_s: float = 15 * 60):
        self.max_failures, self.window_s = max_failures, window_s
        self._fails: dict[tuple[str, str], deque] = defaultdict(deque)
        self._lock = threading.Lock()

    def _prune(self, key, now: float) -> deque:
        q = self._fails[key]
        while q and q[0] <= now - self.window_s:
            q.popleft()
        return q

    def blocked(self, name: str, addr: str) -> bool:
        with self._lock:
            return len(self._prune((name, addr), time.monotonic())) >= self.max_failures

    def failed(self, name: str, addr: str) -> None:
        with self._lock:
            now = time.monotonic()
            self._prune((name, addr), now).append(now)
            if len(self._fails) > 100_000:  # bound memory under a spray of names
                for k in [k for k, q in self._fails.items() if not q]:
                    del self._fails[k]

    def succeeded(self, name: str, addr: str) -> None:
        with self._lock:
            self._fails.pop((name, addr), None)
