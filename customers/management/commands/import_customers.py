"""``python manage.py import_customers FILE --as MANAGER``: customers from a spreadsheet.
The work is in customers.importing; this parses flags and prints the report."""

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from customers import importing
from privacy.access import decisions
from privacy.core import context


class Command(BaseCommand):
    help = (
        "Import customers from a CSV (UTF-8 or Shift_JIS/CP932) or .xlsx file. Every row is "
        "checked first; a real run imports all rows in one transaction, or none when any row "
        "is invalid (use --skip-invalid to import the valid ones). The report names rows and "
        "columns, never a value."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="The .csv, .tsv or .xlsx file.")
        parser.add_argument(
            "--as",
            dest="username",
            required=True,
            help="The manager importing (named in the audit log and the grants).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Check and report; write nothing."
        )
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="Import the valid rows and leave out the invalid ones.",
        )
        parser.add_argument(
            "--rejects",
            metavar="FILE",
            help="With --skip-invalid: write the rejected rows to this new file (mode 0600).",
        )
        parser.add_argument(
            "--encoding", help="The CSV's encoding (default: UTF-8, else Shift_JIS/CP932)."
        )
        parser.add_argument("--sheet", help="The .xlsx sheet to read (default: the first).")
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="COLUMN=FIELD",
            help="Read COLUMN into FIELD (e.g. --map 氏名=full_name); COLUMN= ignores it.",
        )
        parser.add_argument(
            "--mapping",
            metavar="FILE",
            help='A mapping file: JSON {"column": "field"} or CSV lines column,field.',
        )
        parser.add_argument(
            "--batch-size", type=int, default=500, help="Customers written per insert."
        )

    def handle(self, *args, **options):
        actor = User.objects.filter(username=options["username"]).first()
        try:
            if actor is None:
                raise importing.ImportRefused(
                    _("No staff account named “%(username)s”.") % {"username": options["username"]}
                )
            mapping = {}
            if options["mapping"]:
                mapping.update(importing.load_mapping_file(options["mapping"]))
            mapping.update(importing.parse_map_flags(options["map"]))
            with context.scope(actor=actor):
                report = importing.import_customers(
                    options["file"],
                    mapping=mapping,
                    encoding=options["encoding"],
                    dry_run=options["dry_run"],
                    skip_invalid=options["skip_invalid"],
                    rejects_path=options["rejects"],
                    actor=actor,
                    sheet=options["sheet"],
                    batch_size=options["batch_size"],
                )
        except importing.ImportRefused as refused:
            raise CommandError(str(refused)) from None
        except decisions.REFUSALS as refused:  # the gate said no: nothing was imported
            raise CommandError(decisions.refusal_message(refused)) from None
        for line in report.lines():
            self.stdout.write(line)
        if report.refused:
            # Exit non-zero so that a script sees it; the report above says which rows.
            raise CommandError(_("Nothing was imported."))
