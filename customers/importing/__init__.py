"""Import customers from a spreadsheet: CSV (UTF-8 with or without BOM, or Shift_JIS/CP932 as
Japanese Excel saves it) or .xlsx.

Each row goes through the counter's own ``CustomerForm`` (the same normalization of
full-width digits and kana, the same checks), then repeated people are set aside, then the
good rows are written the way the counter writes a new customer (a data key each, encrypted
fields, blind indexes, a grant to the counter team, write-log entries) but in batches, so
that thousands of rows take seconds. A real run is one transaction.

Imported customers have no NoticeRecord: they have not been told the purposes yet, so their
next order asks the clerk to tell them (``purposes.needs_notice``). Their details were not
confirmed with them either (``last_confirmed_at`` is empty), so that order flags them too.

Duplicates: a row with the same phone number *and* the same reading (family and given
name in kana) as an earlier row, or as an existing customer, is the same person and is
rejected, naming the earlier line. The same phone with another reading (a household's
landline) is imported.

The report names rows by line number and columns by their heading, never a value: it goes
to a terminal and may end up in a ticket. The rejects file does hold the rejected rows (so
they can be corrected and imported again) and is created with mode 0600.
"""

from customers.importing.checking import Reject, check_row
from customers.importing.columns import (
    FIELDS,
    Columns,
    load_mapping_file,
    parse_map_flags,
    resolve_columns,
)
from customers.importing.reading import ImportRefused, Table, decode, read_table
from customers.importing.report import ImportReport
from customers.importing.writing import (
    check_actor,
    counter_access_ends,
    import_customers,
    write_rejects,
)

__all__ = [
    "FIELDS",
    "Columns",
    "ImportRefused",
    "ImportReport",
    "Reject",
    "Table",
    "check_actor",
    "check_row",
    "counter_access_ends",
    "decode",
    "import_customers",
    "load_mapping_file",
    "parse_map_flags",
    "read_table",
    "resolve_columns",
    "write_rejects",
]
