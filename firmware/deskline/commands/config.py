"""``deskline config``: check a configuration file, or print the configuration in force."""
from __future__ import annotations

import json

from deskline.config import SYSTEM_PATH, config_path, load_config, load_effective

NAME = "config"
HELP = "check a configuration file (check FILE) or print the effective configuration (show)"


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = sub.add_parser("check", help="check FILE: unknown keys, types, impossible values")
    check.add_argument("file", metavar="FILE")
    show = sub.add_parser(
        "show", help=f"print the effective configuration (FILE, else $DESKLINE_CONFIG, else "
                     f"{SYSTEM_PATH} if present, else the built-in defaults)")
    show.add_argument("file", metavar="FILE", nargs="?")
    show.add_argument("--json", action="store_true", help="JSON instead of TOML")


def run(args) -> int:
    if args.config_command == "check":
        from deskline.config import check_service

        cfg = load_config(args.file)
        check_service(cfg)     # what `deskline run` checks too, no more and no less
        extra = sorted(set(cfg.profiles) - {"standard", "gov"})
        release = (f"relay on BCM {cfg.hw.line_release_pin}" if cfg.desk.line_release
                   else "asked of the agent (LED)")
        print(f"{args.file}: ok; profile {cfg.profile.name} "
              f"(defined: {', '.join(['standard', 'gov'] + extra)}); line release {release}")
        return 0
    cfg = load_effective(args.file)
    if args.json:
        print(json.dumps({"path": config_path(args.file), **cfg.to_dict()}, ensure_ascii=False,
                         indent=2))
    else:
        print(cfg.to_toml(), end="")
    return 0
