"""``deskline floor``: the floor service and its tools.

``serve`` (for systemd) stores every desk's calls and alerts and serves the floor lead's page;
``setup-broker`` writes the floor's Mosquitto configuration (passwords, ACL, TLS); ``passwd``
prints the hash of the floor lead's password for ``[web] password_hash``; ``report`` prints
the report for a day, a date range or a shift (text, JSON or CSV).
"""
from __future__ import annotations

import getpass
import json
import logging
import sys

NAME = "floor"
HELP = "the floor service: every desk's calls and alerts stored, the floor lead's live page"


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="floor_command", metavar="ACTION", required=True)
    p = sub.add_parser("serve", help="store what the desks send and serve the floor lead's page")
    p.add_argument("--config", metavar="FILE", default=None,
                   help="floor settings (default: $DESKLINE_FLOOR_CONFIG, else "
                        "/etc/deskline/floor.toml, else built-in defaults)")
    p = sub.add_parser("setup-broker", help="write the floor's Mosquitto configuration")
    p.add_argument("--site", required=True, help="the site's name (topic level)")
    p.add_argument("--desk", action="append", default=[], metavar="DESK",
                   help="a desk's id (repeat for each desk)")
    p.add_argument("--etc", default="/etc/mosquitto", help="Mosquitto's folder (default %(default)s)")
    p.add_argument("--port", type=int, default=None, help="listener port (1883, 8883 with TLS)")
    p.add_argument("--bind", default="", help="listen on this address only")
    p.add_argument("--ca", default="", help="CA file: TLS on (with --cert and --key)")
    p.add_argument("--cert", default="", help="the broker's certificate")
    p.add_argument("--key", default="", help="the broker's key")
    p = sub.add_parser("passwd", help="print the hash of the floor lead's password "
                                      "(read from stdin when not a terminal)")
    p = sub.add_parser("report", help="the report for a day, a date range or a shift")
    p.add_argument("--config", metavar="FILE", default=None, help="floor settings")
    p.add_argument("--db", metavar="PATH", default=None, help="the floor's database")
    p.add_argument("--day", metavar="YYYY-MM-DD")
    p.add_argument("--from", dest="date_from", metavar="YYYY-MM-DD")
    p.add_argument("--to", dest="date_to", metavar="YYYY-MM-DD")
    p.add_argument("--shift", metavar="NAME@YYYY-MM-DD")
    p.add_argument("--format", choices=("text", "json", "csv"), default="text")


def run(args) -> int:
    from deskline.exc import ConfigError
    from deskline.floor import settings as fs

    what = args.floor_command
    if what == "passwd":
        from deskline.floor.web import hash_password

        if sys.stdin.isatty():
            pw = getpass.getpass("floor lead's password: ")
            if pw != getpass.getpass("again: "):
                raise ConfigError("the two passwords differ")
        else:
            pw = sys.stdin.readline().rstrip("\n")
        if len(pw) < 8:
            raise ConfigError("the password needs at least 8 characters")
        print(hash_password(pw))
        return 0
    if what == "setup-broker":
        from deskline.floor.broker import setup_broker

        if not args.desk:
            raise ConfigError("name the desks: --desk D1 --desk D2 ...")
        files = setup_broker(args.etc, args.site, args.desk, port=args.port, bind=args.bind,
                             ca_file=args.ca, cert_file=args.cert, key_file=args.key)
        print(f"wrote {files.conf}, {files.passwd}, {files.acl}; credentials in "
              f"{files.credentials_dir} (copy each desk's to it); restart mosquitto")
        return 0
    settings = fs.load(args.config)
    if what == "serve":
        from deskline.floor.service import serve

        logging.basicConfig(level=logging.DEBUG if args.verbose > 1 else logging.INFO,
                            format="%(levelname)s %(name)s: %(message)s", stream=sys.stdout,
                            force=True)
        return serve(settings)
    # report
    from deskline.floor import messages as m
    from deskline.floor import report as rep
    from deskline.floor.store import FloorStore

    chosen = [x for x in ("day", "date_from", "shift") if getattr(args, x)]
    if len(chosen) != 1:
        raise ConfigError("give one of --day, --from [--to], --shift")
    try:
        if args.day:
            start, end = rep.span("day", args.day, settings.tz)
        elif args.shift:
            start, end = rep.span("shift", args.shift, settings.tz, dict(settings.shifts))
        else:
            start, end = rep.span("range", args.date_from, settings.tz, until=args.date_to)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    import os

    path = args.db or settings.store_path
    if not os.path.exists(path):
        raise ConfigError(f"{path}: no floor database")
    store = FloorStore(path, readonly=True)
    try:
        a, b = m.utc_iso(start.timestamp()), m.utc_iso(end.timestamp())
        out = rep.build(store.calls_between(a, b), store.alerts_between(a, b), settings.tz)
    finally:
        store.close()
    out["from"], out["to"] = start.isoformat(), end.isoformat()
    if args.format == "json":
        print(json.dumps(out, indent=2, ensure_ascii=False))
    elif args.format == "csv":
        sys.stdout.write(rep.to_csv(out))
    else:
        print(f"{out['from']} to {out['to']} ({settings.timezone})")
        print(rep.to_text(out))
    return 0
