"""The `einvoice` command line."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date
from pathlib import Path

from .config import load_settings


def _validate(args) -> int:
    from .validation.collect import collect
    from .validation.parallel import validate_paths
    from .validation.render import json_line, text_block, text_summary
    from .validation.render_html import html_report

    files, problems = collect(args.paths)
    for problem in problems:
        print(f"einvoice: {problem}", file=sys.stderr)
    if problems or not files:
        if not files and not problems:
            print("einvoice: no .xml or .pdf files found", file=sys.stderr)
        return 2
    if args.pack:
        from .validation.packs import PackRegistry

        PackRegistry(load_settings()).get(args.pack)  # unknown name: usage error before any work
    jobs = max(1, min(args.jobs or 1, len(files)))
    results = []
    for result in validate_paths(files, jobs=jobs, pack=args.pack):
        results.append(result)
        if args.format == "json":
            print(json_line(result), flush=True)
        elif args.format == "text":
            print(text_block(result), flush=True)
    if args.format == "text":
        print(text_summary(results))
    elif args.format == "html":
        sys.stdout.write(html_report(results))
    return 0 if all(r.valid for r in results) else 1


def _rules_list(args) -> int:
    from .validation.packs import PackRegistry

    registry = PackRegistry(load_settings())
    for problem in registry.problems:
        print(f"einvoice: {problem}", file=sys.stderr)
    active = registry.active_name()
    for pack in registry.packs:
        marker = "*" if pack.name == active else " "
        print(f"{marker} {pack.name:<28} {pack.version or '-':<22} {pack.origin}  (valid: {pack.window}; "
              f"{sum(not s.triage_only for s in pack.scenarios)} scenarios)")
        if args.verbose:
            for scenario in pack.scenarios:
                print(f"      - {scenario.name}{' (triage only)' if scenario.triage_only else ''}")
    return 0


def _rules_install(args) -> int:
    from .validation.packs.install import install_pack

    pack = install_pack(Path(args.path), load_settings(), name=args.name, valid_from=args.valid_from,
                        valid_until=args.valid_until, activate=not args.no_activate, replace=args.replace)
    print(f"installed rule pack {pack.name} {pack.version} with {len(pack.scenarios)} scenarios into {pack.origin}")
    return 0


def _show(args) -> int:
    import json

    from .formats.export import to_dict, to_text
    from .formats.read import FormatError, read_invoice

    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        print(f"einvoice: cannot read {path}: {exc}", file=sys.stderr)
        return 2
    try:
        result = read_invoice(data, str(path))
    except FormatError as exc:
        print(f"einvoice: {path}: {exc.code}: {exc}", file=sys.stderr)
        return 1
    if args.format == "json":
        output = json.dumps(to_dict(result, coverage=args.coverage), ensure_ascii=False, indent=2) + "\n"
    elif args.format == "html":
        from .formats.html_view import render_html

        validation = None
        if args.validate:
            from .validation import ValidationEngine

            validation = ValidationEngine().validate(data, path.name)
        output = render_html(result, validation, today=date.today())
    else:
        output = to_text(result, coverage=args.coverage) + "\n"
    if args.output:
        try:
            Path(args.output).write_text(output, encoding="utf-8")
        except OSError as exc:
            print(f"einvoice: cannot write {args.output}: {exc}", file=sys.stderr)
            return 2
        print(f"einvoice: {args.format} view of {path} written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(output)
    return 0


def _samples_generate(args) -> int:
    from .samples.generate import write_sample_set

    target = Path(args.dir or "samples")
    written = write_sample_set(target)
    for path in written:
        print(path)
    print(f"einvoice: {len(written) - 1} sample files and {written[-1].name} written to {target}", file=sys.stderr)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="einvoice", description="Receive, validate and route e-invoices.")
    parser.add_argument("--config", dest="config_file", metavar="PATH",
                        help="settings file (default: $EINVOICE_CONFIG, else /etc/einvoice/einvoice.toml if present)")
    commands = parser.add_subparsers(dest="command", required=True)

    validate = commands.add_parser("validate", help="validate XRechnung / ZUGFeRD / Factur-X files")
    validate.add_argument("paths", nargs="+", metavar="PATH", help="files or folders (searched for .xml and .pdf)")
    validate.add_argument("--format", choices=("text", "json", "html"), default="text")
    validate.add_argument("--pack", help="validate with this rule pack only (see `einvoice rules list`)")
    validate.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    validate.set_defaults(func=_validate)

    show = commands.add_parser("show", help="show the EN 16931 data of one invoice (XML or PDF)")
    show.add_argument("file", metavar="FILE")
    show.add_argument("--format", choices=("text", "json", "html"), default="text",
                      help="text (default), json, or html: one self-contained page (lines, totals, payment and "
                           "Skonto, attachments to download, validation and arithmetic check)")
    show.add_argument("-o", "--output", metavar="OUT", help="write to this file instead of standard output")
    show.add_argument("--coverage", action="store_true", help="also list what the model did not read")
    show.add_argument("--no-validate", dest="validate", action="store_false",
                      help="html: leave out the validation findings (faster)")
    show.set_defaults(func=_show)

    samples = commands.add_parser("samples", help="the project's own synthetic sample invoices")
    samples_commands = samples.add_subparsers(dest="samples_command", required=True)
    generate = samples_commands.add_parser(
        "generate", help="write invoices/ (valid), broken/ (invalid) and expected.json (rule ids per broken file)")
    generate.add_argument("dir", nargs="?", metavar="DIR", help="target folder (default: samples/ in the current folder)")
    generate.set_defaults(func=_samples_generate)

    rules = commands.add_parser("rules", help="rule packs (validator configurations)")
    rules_commands = rules.add_subparsers(dest="rules_command", required=True)
    listing = rules_commands.add_parser("list", help="show installed rule packs")
    listing.add_argument("-v", "--verbose", action="store_true", help="also list each pack's scenarios")
    listing.set_defaults(func=_rules_list)
    install = rules_commands.add_parser("install", help="install a KoSIT validator configuration (zip or folder)")
    install.add_argument("path")
    install.add_argument("--name", help="pack name (default: from the file name)")
    install.add_argument("--valid-from", type=date.fromisoformat, metavar="YYYY-MM-DD")
    install.add_argument("--valid-until", type=date.fromisoformat, metavar="YYYY-MM-DD")
    install.add_argument("--no-activate", action="store_true", help="install without making it the active pack")
    install.add_argument("--replace", action="store_true", help="replace an installed pack of the same name")
    install.set_defaults(func=_rules_install)
    from .handoff.archive.cli import add_parser as add_archive_parser
    from .handoff.bookings.cli import add_parser as add_bookings_parser
    from .handoff.payments.cli import add_parser as add_payments_parser
    from .handoff.procedure.cli import add_parser as add_procedure_parser
    from .intake.mail.cli import add_parser as add_mail_parser
    from .jobs.cli import add_parser as add_worker_parser
    from .routing.deadlines.cli import add_parser as add_deadlines_parser
    from .routing.masterdata.cli import add_parser as add_masterdata_parser
    from .routing.matching.cli import add_parser as add_matching_parser
    from .routing.workflow.cli import add_parser as add_workflow_parser
    from .store.cli import add_parser as add_db_parser
    from .web.cli import add_parser as add_serve_parser

    add_serve_parser(commands)  # einvoice serve [--host] [--port] [--no-worker]
    add_worker_parser(commands)  # einvoice worker [--once]
    add_db_parser(commands)  # einvoice db upgrade|current
    add_mail_parser(commands)  # einvoice imap-poll [--once], imap-reconcile, smtpd
    add_masterdata_parser(commands)  # einvoice masterdata import|export
    add_matching_parser(commands)  # einvoice matching seed|rerun
    add_workflow_parser(commands)  # einvoice workflow seed
    add_deadlines_parser(commands)  # einvoice deadlines scheduler|metrics
    export = commands.add_parser("export", help="hand-off to the Kämmerei: booking records, payment files")
    export_commands = export.add_subparsers(dest="export_command", required=True)
    add_bookings_parser(export_commands)  # einvoice export bookings|batches|book|cancel …
    add_payments_parser(export_commands)  # einvoice export payments … (pain.001)
    add_archive_parser(commands)  # einvoice archive [--verify]
    add_procedure_parser(commands)  # einvoice docs procedure
    from .web.ui.cli import add_parser as add_users_parser

    add_users_parser(commands)  # einvoice users password|list
    from .demo.cli import add_parser as add_demo_parser

    add_demo_parser(commands)  # einvoice demo [--data-dir DIR] [--port 8000] [--no-serve] [--keep]
    from .config.cli import add_parser as add_config_parser
    from .store.audit_cli import add_parser as add_audit_parser

    add_config_parser(commands)  # einvoice config check|show
    add_audit_parser(commands)  # einvoice audit export|verify
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.config_file:  # for this process and the processes it starts (workers)
        os.environ["EINVOICE_CONFIG"] = os.path.abspath(args.config_file)
    if getattr(args, "jobs", 1) is not None and getattr(args, "jobs", 1) < 1:
        print("einvoice: --jobs must be at least 1", file=sys.stderr)
        return 2
    from .config import ConfigError
    from .store.migrate import SchemaNotCurrentError
    from .validation.packs.manifest import PackError

    try:
        return args.func(args)
    except SchemaNotCurrentError as exc:  # any command on an old or empty database: say what to do
        print(f"einvoice: {exc}", file=sys.stderr)
        return 1
    except ConfigError as exc:  # a wrong setting: name it and point to the check
        print(f"einvoice: configuration: {exc} (run `einvoice config check`)", file=sys.stderr)
        return 1
    except PackError as exc:
        print(f"einvoice: {exc}", file=sys.stderr)
        return 2 if args.command == "validate" else 1
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
