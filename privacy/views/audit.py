"""The administrator's desk: the audit log page, its CSV, and the chain's verification."""

import csv
import logging
from datetime import timedelta

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import QueryDict, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from privacy.audit import chain as audit_chain
from privacy.audit import log as audit
from privacy.audit import review
from privacy.staff.roles import administrator_only
from privacy.views.audit_forms import FILTER_KEYS, AuditFilterForm

logger = logging.getLogger(__name__)

PAGE_SIZE = 50

# The CSV's columns. Its last row says "end of export: N entries"; a file without that row
# is incomplete (the download was cut), and a failure midway writes an "export FAILED" row.
CSV_COLUMNS = [
    "seq",
    "timestamp",
    "actor",
    "event",
    "what",
    "reference",
    "purpose",
    "fields",
    "changed",
    "details",
    "remote_addr",
    "cid",
]
END_ROW = "end of export: {n} entries (up to entry #{head}; times in {zone})"
FAILED_ROW = "export FAILED after {n} entries: this file is incomplete"


def _filters(request):
    """The form, the matching entries, and the filters as a query string for links."""
    form = AuditFilterForm(request.GET or None)
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        entries = review.filtered_entries(
            actor=data["actor"],
            reference=data["reference"],
            action=data["action"],
            date_from=data["date_from"],
            date_to=data["date_to"],
            event=data["event"],
            job=data["job"],
        )
    elif form.is_bound:
        entries = review.filtered_entries().none()
    else:
        entries = review.filtered_entries()
    return form, entries, _query(request.GET)


def _query(params) -> str:
    """The filters of ``params`` (only those), URL-encoded."""
    kept = QueryDict(mutable=True)
    for key in FILTER_KEYS:
        value = params.get(key, "")
        if value:
            kept[key] = value
    return kept.urlencode()


def _flags(form):
    """Flags over the filtered period and person (default: the last 7 days, everyone)."""
    data = form.cleaned_data if form.is_bound and form.is_valid() else {}
    since = until = None
    if data.get("date_from"):
        since = review._start_of(data["date_from"])
    if data.get("date_to"):
        until = review._start_of(data["date_to"] + timedelta(days=1))
    if since is None and until is not None:
        since = until - timedelta(days=7)
    return review.flags(since=since, until=until, actor=data.get("actor"))


def _flag_links(found):
    """Each flag with a link to the entries behind it (its person, its kind, its day)."""
    kinds = {
        "many_opened": "opened",
        "download": "download",
        "outside_hours": "read",
        "failed_logins": "login",
    }
    rows = []
    for flag in found:
        day = timezone.localtime(flag.at, review.shop_zone()).date().isoformat()
        params = QueryDict(mutable=True)
        if flag.actor_id:
            params["actor"] = str(flag.actor_id)
        params["action"] = kinds.get(flag.kind, "")
        params["date_from"] = params["date_to"] = day
        rows.append({"flag": flag, "query": params.urlencode()})
    return rows


@never_cache
@administrator_only
@require_GET
def audit_log(request):
    form, entries, query = _filters(request)
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "privacy/audit_log.html",
        {
            "form": form,
            "page": page,
            "rows": [review.describe(entry) for entry in page.object_list],
            "query": query,
            "flags": _flag_links(_flags(form)),
            "chain": review.chain_status(),
            "filter_items": [
                (key, request.GET[key]) for key in FILTER_KEYS if request.GET.get(key)
            ],
            "period_chosen": bool(request.GET.get("date_from") or request.GET.get("date_to")),
            "zone": review.shop_zone().key,
            "end_row": END_ROW.format(n="N", head="S", zone=review.shop_zone().key),
        },
    )


@never_cache
@administrator_only
@require_POST
def audit_verify(request):
    """Verify the chain now, as ``manage.py verify_audit_log`` does, and keep the result."""
    result = review.verify_now()
    audit.record(
        "privacy.audit.verified",
        actor=request.user,
        data={"ok": result.ok, "entries": result.entries},
    )
    if result.ok:
        messages.success(
            request,
            _("The audit log is intact: %(n)s entries verified, up to entry #%(seq)s.")
            % {"n": result.entries, "seq": result.head_seq},
        )
    else:
        messages.error(
            request, _("The audit log is BROKEN: %(problem)s.") % {"problem": result.problem}
        )
    query = _query(request.POST)
    target = reverse("privacy:audit_log")
    return redirect(f"{target}?{query}" if query else target)


class _Echo:
    def write(self, value):
        return value


@never_cache
@administrator_only
@require_GET
def audit_export(request):
    """The filtered log as CSV, streamed: entries are read a batch at a time by sequence
    number (never all at once), up to the head at the moment of the request. The file ends
    with the row "end of export: N entries"; without it the file is incomplete."""
    form, entries, _query_string = _filters(request)
    audit.record(
        "privacy.audit.exported",
        actor=request.user,
        data={
            key: str(value)
            for key, value in (
                form.cleaned_data if form.is_bound and form.is_valid() else {}
            ).items()
            if value
        },
    )
    head_seq = audit_chain.head()[0]
    entries = entries.filter(seq__lte=head_seq)
    zone = review.shop_zone()
    writer = csv.writer(_Echo())

    def rows():
        written = 0
        yield writer.writerow(CSV_COLUMNS)
        try:
            for entry in review.keyset_pages(entries):
                described = review.describe(entry)
                stamp = described["timestamp"]
                described["timestamp"] = stamp.isoformat() if stamp else ""
                yield writer.writerow([described[c] for c in CSV_COLUMNS])
                written += 1
        except Exception:
            logger.exception("The audit CSV failed after %s entries.", written)
            yield writer.writerow([FAILED_ROW.format(n=written)])
            return
        yield writer.writerow([END_ROW.format(n=written, head=head_seq, zone=zone.key)])

    stamp = timezone.localtime(timezone.now(), zone).strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="audit-log-{stamp}.csv"'
    return response
