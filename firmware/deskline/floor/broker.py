"""The floor's Mosquitto: the shipped configuration, passwords and ACL, and how to install them.

``deskline floor setup-broker --site SITE --desk D1 --desk D2 …`` writes, under ``--etc``
(``/etc/mosquitto`` on the floor's server):

- ``conf.d/deskline-floor.conf``: no anonymous clients, the password file and the ACL, the
  listener (TLS on 8883 when a CA, certificate and key are given), queue limits for the floor
  service's persistent session;
- ``deskline/passwd``: one password per desk and per floor service, hashed by
  ``mosquitto_passwd``;
- ``deskline/acl``: a desk may write only ``deskline/<site>/<desk>/{status,state,alert,call}``
  and read only its own ``cmd``; the floor service reads ``deskline/#`` and writes ``cmd``;
- ``deskline/credentials/<user>.cred``: ``<user>:<password>`` for each desk (copy it to the
  desk and name it in its ``[floor] credentials_file``) and for the floor service.

Running it again with more desks keeps the passwords already given out.
"""
from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from importlib import resources

from deskline.exc import ConfigError
from deskline.floor import messages as m

TEMPLATE = "deskline-floor.conf"
#: the floor service's user on the broker
FLOOR_USER = "floor"


@dataclass(frozen=True)
class BrokerFiles:
    conf: str
    passwd: str
    acl: str
    credentials_dir: str


def acl_text(site: str, desks: list[str], floor_users: list[str]) -> str:
    lines = ["# deskline floor ACL (written by `deskline floor setup-broker`)", ""]
    for user in floor_users:
        lines += [f"# floor service", f"user {user}", f"topic read {m.ROOT}/#",
                  f"topic write {m.ROOT}/+/+/cmd", ""]
    for desk in desks:
        lines += [f"user {desk}"]
        lines += [f"topic write {m.topic(site, desk, kind)}" for kind in m.DESK_KINDS]
        lines += [f"topic read {m.topic(site, desk, 'cmd')}", ""]
    return "\n".join(lines)


def _read_cred(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            user, _, password = f.read().strip().partition(":")
        return password or None
    except OSError:
        return None


def _owner(path: str, mode: int, user: str | None) -> None:
    os.chmod(path, mode)
    if user:
        try:
            pw = pwd.getpwnam(user)
        except KeyError:
            return
        if os.geteuid() == 0:
            os.chown(path, pw.pw_uid, pw.pw_gid)


def setup_broker(etc: str, site: str, desks: list[str], *, floor_users: list[str] | None = None,
                 port: int | None = None, bind: str = "", ca_file: str = "", cert_file: str = "",
                 key_file: str = "", persistence_dir: str = "",
                 broker_user: str | None = "mosquitto") -> BrokerFiles:
    """Write the broker's configuration under ``etc`` (see the module's docstring).

    ``persistence_dir`` makes the configuration stand alone (its own persistence, logging to
    stderr) instead of a ``conf.d`` part of Debian's main file.
    """
    floor_users = floor_users or [FLOOR_USER]
    for name in [site, *desks, *floor_users]:
        if not m.NAME.fullmatch(name):
            raise ConfigError(f"{name!r}: not a site, desk or user name (letters, digits, "
                              "'_', '-', '.')")
    if len(set(desks) | set(floor_users)) != len(desks) + len(floor_users):
        raise ConfigError("a desk or floor user is named twice")
    tls = bool(ca_file or cert_file or key_file)
    if tls and not (ca_file and cert_file and key_file):
        raise ConfigError("TLS needs --ca, --cert and --key together")
    if shutil.which("mosquitto_passwd") is None:
        raise ConfigError("mosquitto_passwd not found: install Debian's mosquitto package")
    base = os.path.join(etc, "deskline")
    creds = os.path.join(base, "credentials")
    os.makedirs(creds, mode=0o700, exist_ok=True)
    os.makedirs(os.path.join(etc, "conf.d"), exist_ok=True)
    passwd = os.path.join(base, "passwd")
    acl = os.path.join(base, "acl")
    conf = os.path.join(etc, "conf.d", TEMPLATE)

    tmp = passwd + ".new"
    open(tmp, "w").close()
    os.chmod(tmp, 0o600)
    for user in [*floor_users, *desks]:
        cred = os.path.join(creds, f"{user}.cred")
        password = _read_cred(cred) or secrets.token_urlsafe(18)
        with open(cred, "w", encoding="utf-8") as f:
            f.write(f"{user}:{password}\n")
        os.chmod(cred, 0o600)
        subprocess.run(["mosquitto_passwd", "-b", tmp, user, password], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.replace(tmp, passwd)
    _owner(passwd, 0o640, broker_user)
    with open(acl, "w", encoding="utf-8") as f:
        f.write(acl_text(site, desks, floor_users))
    _owner(acl, 0o640, broker_user)

    port = port or (8883 if tls else 1883)
    listener = [f"listener {port} {bind}".rstrip()]
    if tls:
        listener += [f"cafile {ca_file}", f"certfile {cert_file}", f"keyfile {key_file}",
                     "tls_version tlsv1.2"]
    persistence = ""
    if persistence_dir:
        os.makedirs(persistence_dir, exist_ok=True)
        _owner(persistence_dir, 0o700, broker_user)
        persistence = "\n".join(["persistence true",
                                 f"persistence_location {persistence_dir.rstrip('/')}/",
                                 "autosave_interval 5", "log_dest stderr",
                                 "log_type error", "log_type warning", "log_type notice",
                                 "log_type information"])
    template = resources.files("deskline.floor").joinpath("broker", TEMPLATE).read_text("utf-8")
    with open(conf, "w", encoding="utf-8") as f:
        f.write(template.format(passwd=passwd, acl=acl, persistence=persistence,
                                listener="\n".join(listener)))
    return BrokerFiles(conf=conf, passwd=passwd, acl=acl, credentials_dir=creds)
