#!/usr/bin/env python3
"""Side-by-side check: what the Rust port writes, read the way Flask-Security 1.7.4 reads it.

Usage: passlib_interop.py [BINARY]   (default: target/release/conformance-app)

Run it through scripts/passlib-interop.sh, which provides a venv with the pinned passlib and
bcrypt. For each legacy scheme the port can write (spec §9.2), users are created through the
example app's CLI in a fresh SQLite database; the stored `user.password` is read with sqlite3 and
checked with passlib exactly as Flask-Security 1.7.4's `verify_and_update_password` does (spec
§9.3-§9.4): identify the stored value with a CryptContext over the 1.7.4 schemes, verify
`get_hmac(p)` (or `p` when the stored value is plaintext), and require that a wrong password
fails. Then the HTTP server is started once (SECURITY_TRACKABLE=true) to check that the login
timestamps it stores parse with SQLAlchemy 0.9's SQLite DATETIME parsing, and that a login
re-hashes a password stored under another scheme so that 1.7.4 still verifies it (spec §9.5:
the original password re-hashed, no double HMAC).

Prints one line per scheme, every mismatch with the stored value, and a closing
`passlib-interop: N passed, N failed` line; exits 1 on any mismatch, 2 when it cannot run.
"""

import base64
import datetime
import hashlib
import hmac
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import warnings

# passlib 1.6 imports the `crypt` module, deprecated since Python 3.11.
warnings.simplefilter("ignore", DeprecationWarning)

try:
    import passlib
    from passlib.context import CryptContext
    from passlib.hash import bcrypt as passlib_bcrypt
except ImportError as err:  # pragma: no cover - environment problem
    sys.exit("passlib-interop: passlib is not importable (%s); run scripts/passlib-interop.sh" % err)

# Flask-Security 1.7.4's SECURITY_PASSWORD_SCHEMES, in order (first match wins when identifying).
SCHEMES = ["bcrypt", "des_crypt", "pbkdf2_sha256", "pbkdf2_sha512",
           "sha256_crypt", "sha512_crypt", "plaintext"]

# The legacy schemes the port can write (des_crypt verifies only).
WRITABLE = ["bcrypt", "pbkdf2_sha512", "pbkdf2_sha256", "sha512_crypt", "sha256_crypt", "plaintext"]

# What passlib 1.6.2 (Flask-Security 1.7.4's pin) writes and accepts, spec §9.2-§9.3. The venv's
# passlib is 1.6.5 (the nearest 1.6 release whose bcrypt backend works with a bcrypt wheel on
# current Pythons); 1.6.5 also takes `$2b$` for bcrypt where 1.6.2 takes it for plaintext, so the
# formats are checked here too.
FORMATS = {
    "bcrypt": re.compile(r"^\$2a\$12\$[./A-Za-z0-9]{53}$"),
    "pbkdf2_sha512": re.compile(r"^\$pbkdf2-sha512\$\d+\$[./A-Za-z0-9]+\$[./A-Za-z0-9]{86}$"),
    "pbkdf2_sha256": re.compile(r"^\$pbkdf2-sha256\$\d+\$[./A-Za-z0-9]+\$[./A-Za-z0-9]{43}$"),
    "sha512_crypt": re.compile(r"^\$6\$(rounds=\d+\$)?[./A-Za-z0-9]{1,16}\$[./A-Za-z0-9]{86}$"),
    "sha256_crypt": re.compile(r"^\$5\$(rounds=\d+\$)?[./A-Za-z0-9]{1,16}\$[./A-Za-z0-9]{43}$"),
}
BCRYPT_IDENTS_162 = ("$2$", "$2a$", "$2x$", "$2y$")

# Non-ASCII on purpose: Flask-Security encodes the salt as UTF-8 (spec §9.1).
SALT = "interop-s\u00e4lz"
SECRET_KEY = "passlib-interop-secret"

PASSWORDS = [
    "password",                                    # ASCII
    "p\u00e4ssw\u00f6rd",                          # 'pässwörd'
    "\u65e5\u672c\u8a9e\u30d1\u30b9\u30ef\u30fc\u30c9",  # '日本語パスワード' (the CLI wants >= 6 chars)
    "  spaced out  ",                              # leading and trailing spaces
    "long-" + "0123456789" * 8,                    # 85 bytes: past bcrypt's 72
    "\u00fc" * 40,                                 # 40 characters, 80 UTF-8 bytes
    "-dash and \"quotes\" 'n' \\back$lash",        # shell- and argv-hostile
]

# SQLAlchemy 0.9 `sqlalchemy.dialects.sqlite.base.DATETIME._reg`, applied with re.match and
# `datetime(*map(int, m.groups(0)))` by `str_to_datetime_processor_factory`.
SQLA_DATETIME = re.compile(r"(\d+)-(\d+)-(\d+)(?: (\d+):(\d+):(\d+)(?:\.(\d+))?)?")


def get_hmac(password):
    """Flask-Security 1.7.4 `utils.get_hmac` on Python 3: base64 bytes of HMAC-SHA512."""
    digest = hmac.new(SALT.encode("utf-8"), password.encode("utf-8"), hashlib.sha512).digest()
    return base64.b64encode(digest)


def context(default):
    """Flask-Security 1.7.4 `core._get_pwd_context`."""
    return CryptContext(schemes=SCHEMES, default=default, deprecated=["auto"])


class Checks:
    def __init__(self):
        self.passed = 0
        self.failures = []

    def check(self, ok, what, **details):
        if ok:
            self.passed += 1
        else:
            lines = ["MISMATCH: " + what]
            lines += ["    %s = %r" % (k, v) for k, v in details.items()]
            self.failures.append("\n".join(lines))
            print("\n".join(lines), flush=True)
        return ok


def fatal(message):
    print("passlib-interop: cannot run: " + message, file=sys.stderr, flush=True)
    sys.exit(2)


class App:
    """The example app's binary against one SQLite database."""

    def __init__(self, binary, db_path):
        self.binary = binary
        self.db_path = db_path

    def env(self, scheme, **extra):
        env = dict(os.environ)
        env.update({
            "DATABASE_URL": "sqlite://%s?mode=rwc" % self.db_path,
            "SECRET_KEY": SECRET_KEY,
            "SECURITY_PASSWORD_SALT": SALT,
            "SECURITY_PASSWORD_HASH": scheme,
            "RUST_LOG": env.get("RUST_LOG", "warn"),
        })
        env.update(extra)
        return env

    def create_user(self, scheme, email, password):
        argv = [self.binary, "users", "create", email, "--password=" + password]
        done = subprocess.run(argv, env=self.env(scheme), capture_output=True, text=True,
                              timeout=120)
        if done.returncode != 0:
            fatal("`users create %s` under %s exited %d:\n%s%s"
                  % (email, scheme, done.returncode, done.stdout, done.stderr))

    def row(self, email, *columns):
        con = sqlite3.connect(self.db_path)
        try:
            cols = ", ".join('"%s", typeof("%s")' % (c, c) for c in columns)
            found = con.execute('SELECT %s FROM "user" WHERE email = ?' % cols, (email,)).fetchone()
        finally:
            con.close()
        if found is None:
            fatal("no row for %s in %s" % (email, self.db_path))
        return {c: (found[2 * i], found[2 * i + 1]) for i, c in enumerate(columns)}

    def stored_password(self, email):
        value, kind = self.row(email, "password")["password"]
        return value, kind


def verify_like_1_7_4(checks, configured, label, stored, password, expect_scheme):
    """`verify_and_update_password` of 1.7.4 for the right password, and wrong ones refused."""
    ctx = context(configured)
    scheme = ctx.identify(stored)
    if not checks.check(scheme == expect_scheme,
                        "%s: passlib identifies the stored value as %s, not %s"
                        % (label, scheme, expect_scheme), stored=stored, password=password):
        return
    if scheme == "bcrypt":
        checks.check(stored.startswith(BCRYPT_IDENTS_162),
                     "%s: bcrypt ident that passlib 1.6.2 takes for plaintext" % label,
                     stored=stored)
    if scheme in FORMATS:
        checks.check(FORMATS[scheme].match(stored) is not None,
                     "%s: not the %s format passlib 1.6.2 writes" % (label, scheme), stored=stored)

    def secret(p):
        return p if scheme == "plaintext" else get_hmac(p)

    if scheme == "plaintext":
        checks.check(stored == password, "%s: plaintext stored value is not the password" % label,
                     stored=stored, password=password)
    verified, new_hash = ctx.verify_and_update(secret(password), stored)
    checks.check(verified, "%s: Flask-Security 1.7.4 does not verify the right password" % label,
                 stored=stored, password=password, hmac=get_hmac(password).decode("ascii"))
    if verified and scheme == configured:
        checks.check(new_hash is None,
                     "%s: 1.7.4 would re-hash on every login (passlib says it needs an update)"
                     % label, stored=stored)
    wrong = [password + "!", password[:-1] + chr(ord(password[-1]) ^ 1)]
    if password.strip() != password:
        wrong.append(password.strip())
    for bad in wrong:
        checks.check(not ctx.verify(secret(bad), stored),
                     "%s: a wrong password verifies" % label, stored=stored, wrong=bad)


def schemes_via_cli(checks, binary, workdir):
    for scheme in WRITABLE:
        db = os.path.join(workdir, "cli-%s.db" % scheme)
        app = App(binary, db)
        before = checks.passed
        failed_before = len(checks.failures)
        for i, password in enumerate(PASSWORDS):
            email = "user%d@%s.example.com" % (i, scheme.replace("_", "-"))
            app.create_user(scheme, email, password)
            stored, kind = app.stored_password(email)
            label = "%s user %d" % (scheme, i)
            if not checks.check(kind == "text", "%s: stored password is not TEXT" % label,
                                stored=stored, sqlite_type=kind):
                continue
            verify_like_1_7_4(checks, scheme, label, stored, password, scheme)
        print("%-14s %d passwords, %d checks, %d mismatches"
              % (scheme, len(PASSWORDS), checks.passed - before + len(checks.failures)
                 - failed_before, len(checks.failures) - failed_before), flush=True)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, timeout=30):
    data = None if body is None else json.dumps(body).encode("utf-8")
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
        req.add_header("Accept", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode("utf-8", "replace")


def check_sqlalchemy_datetime(checks, label, value, kind, login_started, login_ended):
    """SQLAlchemy 0.9's SQLite DATETIME result processor on `value`."""
    if not checks.check(kind == "text" and isinstance(value, str),
                        "%s is not stored as TEXT (SQLAlchemy's SQLite DATETIME reads strings)"
                        % label, stored=value, sqlite_type=kind):
        return
    m = SQLA_DATETIME.match(value)
    if not checks.check(m is not None, "%s does not match SQLAlchemy's SQLite DATETIME regex"
                        % label, stored=value):
        return
    checks.check(m.group(4) is not None,
                 "%s: SQLAlchemy's regex matches only the date, the time would be read as 00:00"
                 % label, stored=value, matched=m.group(0))
    checks.check(m.end() == len(value),
                 "%s: SQLAlchemy silently ignores the trailing %r (it writes "
                 "'YYYY-MM-DD HH:MM:SS.ffffff')" % (label, value[m.end():]), stored=value)
    micro = m.group(7)
    if micro is not None:
        checks.check(len(micro) == 6,
                     "%s: fractional seconds have %d digits, SQLAlchemy reads them with int() as "
                     "microseconds (needs exactly 6)" % (label, len(micro)), stored=value)
    try:
        parsed = datetime.datetime(*map(int, m.groups(0)))
    except ValueError as err:
        checks.check(False, "%s: SQLAlchemy's datetime(*map(int, groups)) raises %s"
                     % (label, err), stored=value)
        return
    # Naive UTC (datetime.utcnow() in 1.7.4); the server runs under a far-off TZ to catch
    # local-time writes.
    low = login_started - datetime.timedelta(seconds=5)
    high = login_ended + datetime.timedelta(seconds=5)
    checks.check(low <= parsed <= high,
                 "%s is not the naive UTC time of the login" % label, stored=value,
                 parsed=parsed.isoformat(), login_window_utc="%s .. %s"
                 % (login_started.isoformat(), login_ended.isoformat()))


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def server_checks(checks, binary, workdir):
    configured = "sha512_crypt"
    db = os.path.join(workdir, "server.db")
    app = App(binary, db)
    tracked = ("tracked@example.com", "p\u00e4ssw\u00f6rd tracked")
    migrated = ("migrated@example.com", " \u65e5\u672c\u8a9e migrated ")
    from_plain = ("plain@example.com", "plain \u00e4 password")
    app.create_user(configured, *tracked)
    app.create_user("pbkdf2_sha256", *migrated)
    app.create_user("plaintext", *from_plain)
    old_migrated, _ = app.stored_password(migrated[0])
    checks.check(context(configured).identify(old_migrated) == "pbkdf2_sha256",
                 "migration user: not created under pbkdf2_sha256", stored=old_migrated)

    port = free_port()
    log_path = os.path.join(workdir, "server.log")
    env = app.env(configured, PORT=str(port), SECURITY_TRACKABLE="true",
                  WTF_CSRF_ENABLED="false", TZ="Pacific/Kiritimati", RUST_LOG="info")
    base = "http://127.0.0.1:%d" % port
    with open(log_path, "w") as log:
        server = subprocess.Popen([binary, "serve"], env=env, stdout=log, stderr=log,
                                  stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                with open(log_path) as f:
                    fatal("the server exited with %d before answering:\n%s"
                          % (server.returncode, f.read()[-4000:]))
            try:
                status, _ = http("GET", base + "/", timeout=2)
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                fatal("the server did not answer GET / on %s within 60 s" % base)
            time.sleep(0.2)

        def login(email, password, label):
            status, body = http("POST", base + "/login", {"email": email, "password": password})
            return checks.check(status == 200, "%s: JSON POST /login answered %d" % (label, status),
                                email=email, password=password, body=body[:500])

        started = utcnow()
        ok = login(*tracked, "tracked login")
        ended = utcnow()
        if ok:
            row = app.row(tracked[0], "current_login_at", "last_login_at")
            print("stored current_login_at = %r, last_login_at = %r"
                  % (row["current_login_at"][0], row["last_login_at"][0]), flush=True)
            for column in ("current_login_at", "last_login_at"):
                value, kind = row[column]
                check_sqlalchemy_datetime(checks, column, value, kind, started, ended)

        # Stored under pbkdf2_sha256, the server configured for sha512_crypt: the login re-hashes.
        for user, old_scheme in ((migrated, "pbkdf2_sha256"), (from_plain, "plaintext")):
            label = "%s -> %s re-hash" % (old_scheme, configured)
            if not login(*user, label + " (first login)"):
                continue
            stored, _ = app.stored_password(user[0])
            ctx = context(configured)
            scheme = ctx.identify(stored)
            if not checks.check(scheme == configured,
                                "%s: the login did not re-hash (stored scheme %s)"
                                % (label, scheme), stored=stored):
                continue
            double = ctx.verify(get_hmac(get_hmac(user[1]).decode("ascii")), stored)
            checks.check(not double, "%s: the new hash is of get_hmac(get_hmac(p)) "
                         "(1.7.4's double-HMAC bug)" % label, stored=stored)
            verify_like_1_7_4(checks, configured, label, stored, user[1], configured)
            login(*user, label + " (second login)")
        print("server         trackable login + 2 scheme migrations checked", flush=True)
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def main(argv):
    if len(argv) > 2 or (len(argv) == 2 and argv[1] in ("-h", "--help")):
        print(__doc__)
        return 0 if len(argv) == 2 else 2
    binary = os.path.abspath(argv[1] if len(argv) == 2 else "target/release/conformance-app")
    if not os.access(binary, os.X_OK):
        fatal("%s is not an executable (build it: cargo build --release -p conformance-app)"
              % binary)
    import bcrypt as bcrypt_module
    print("passlib %s (bcrypt backend: %s, bcrypt %s), Python %s; binary %s"
          % (passlib.__version__, passlib_bcrypt.get_backend(),
             getattr(bcrypt_module, "__version__", "?"), sys.version.split()[0], binary),
          flush=True)
    workdir = tempfile.mkdtemp(prefix="passlib-interop-")
    checks = Checks()
    try:
        schemes_via_cli(checks, binary, workdir)
        server_checks(checks, binary, workdir)
    except SystemExit:
        print("passlib-interop: databases and server log kept in %s" % workdir, file=sys.stderr)
        raise
    if checks.failures:
        print("passlib-interop: %d MISMATCHES with Flask-Security 1.7.4 (databases and server "
              "log kept in %s)" % (len(checks.failures), workdir), flush=True)
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    print("passlib-interop: %d passed, %d failed" % (checks.passed, len(checks.failures)),
          flush=True)
    return 1 if checks.failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
