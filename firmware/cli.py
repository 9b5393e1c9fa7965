"""The `trailcam` command line."""
from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path

from . import __version__
from .config import ConfigError, load_config


def _cmd_validate(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(args.file)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    print(f"{args.file}: valid (hardware = {cfg.hardware}, device = {cfg.device.id})")
    return 0


def _cmd_sim(args: argparse.Namespace) -> int:
    from hw_sim.runner import run_scenario, summary_table

    from .runtime import sim_parts

    out = Path(args.out)
    report_path = Path(args.report) if args.report else out / "report.json"
    try:
        report = run_scenario(Path(args.scenario), out, report_path,
                              realdata=Path(args.realdata) if args.realdata else None,
                              build_extras=sim_parts)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    print(summary_table(report, out, report_path))
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from .runtime import run_service
    from .uplink.remote import load_with_overlay

    try:
        cfg = load_with_overlay(args.config)  # the TOML plus accepted remote changes
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    return run_service(cfg, config_path=Path(args.config), install_signals=signal.signal)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="trailcam", description="Edge firmware for Raspberry Pi trail cameras.")
    p.add_argument("--version", action="version", version=f"trailcam {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("sim", help="run the firmware against the simulator on a scenario")
    s.add_argument("scenario", help="scenario TOML (see hw_sim/scenarios/)")
    s.add_argument("--out", default="sim-out", help="data directory for clips, thumbnails, event log")
    s.add_argument("--report", help="write the JSON report here (default OUT/report.json)")
    s.add_argument("--realdata", help="folder of real camera-trap media for sprites and replays "
                                      "(default ../shared/realdata beside the checkout)")
    s.set_defaults(func=_cmd_sim)

    r = sub.add_parser("run", help="the long-running service (Pi hardware, or the simulator in real time)")
    r.add_argument("--config", required=True, help="configuration TOML (e.g. /etc/trailcam/config.toml)")
    r.set_defaults(func=_cmd_run)

    v = sub.add_parser("validate-config", help="check a configuration file; exit 2 naming each problem")
    v.add_argument("file")
    v.set_defaults(func=_cmd_validate)

    from .classify.evaluate import add_eval_parser

    add_eval_parser(sub)

    from .classify.train import add_model_parser

    add_model_parser(sub)

    from .fieldunit.doctor import add_doctor_parser

    add_doctor_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
