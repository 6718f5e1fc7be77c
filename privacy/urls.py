from django.urls import path

from privacy.views import access_requests as access_request_views
from privacy.views import approvals as approval_views
from privacy.views import audit as audit_views
from privacy.views import confirmations as confirmation_views
from privacy.views import exports as export_views
from privacy.views import manager as views
from privacy.views import records as record_views
from privacy.views import requests as request_views
from privacy.views import retention as retention_views
from privacy.views import terminals as terminal_views
from privacy.views import third_party as third_party_views

app_name = "privacy"

urlpatterns = [
    path("customers/<uuid:pk>/access/grant/", views.access_grant, name="access_grant"),
    path("access/<int:grant_id>/revoke/", views.access_revoke, name="access_revoke"),
    path("manager/find/", views.find_any_customer, name="find_any_customer"),
    # Counter: clerks' access requests (a new customer matched a record hidden from them).
    path(
        "manager/access-requests/",
        access_request_views.access_request_list,
        name="access_requests",
    ),
    path(
        "manager/access-requests/<int:pk>/",
        access_request_views.access_request_detail,
        name="access_request",
    ),
    path(
        "manager/access-requests/<int:pk>/<slug:action>/",
        access_request_views.access_request_action,
        name="access_request_action",
    ),
    path("manager/hours/", views.hours_override, name="hours_override"),
    path("manager/notices/", views.notices, name="notices"),
    path("requests/", request_views.request_board, name="request_board"),
    path("requests/new/", request_views.counter_request, name="counter_request"),
    path(
        "requests/new/received/",
        request_views.counter_request_received,
        name="counter_request_received",
    ),
    path("approvals/", approval_views.approvals, name="approvals"),  # the approvals inbox
    # Second person (issue 15): roles, the manager's own access, long openings.
    path("confirmations/<int:pk>/", confirmation_views.confirmation, name="confirmation"),
    path(
        "confirmations/<int:pk>/<slug:action>/",
        confirmation_views.confirmation_action,
        name="confirmation_action",
    ),
    path("requests/<uuid:pk>/", request_views.request_detail, name="request_detail"),
    path("requests/<uuid:pk>/correct/", request_views.request_correct, name="request_correct"),
    path("requests/<uuid:pk>/<slug:action>/", request_views.request_action, name="request_action"),
    path("manager/retention/", retention_views.retention_overview, name="retention"),
    path("manager/retention/<uuid:pk>/", retention_views.retention_batch, name="retention_batch"),
    path(
        "manager/retention/<uuid:pk>/<slug:action>/",
        retention_views.retention_action,
        name="retention_action",
    ),
    path("manager/exports/", export_views.exports, name="exports"),
    path("manager/exports/<uuid:pk>/", export_views.export_detail, name="export_detail"),
    path(
        "manager/exports/<uuid:pk>/<slug:action>/",
        export_views.export_action,
        name="export_action",
    ),
    path(
        "customers/<uuid:pk>/third-party/new/",
        third_party_views.provision_new,
        name="provision_new",
    ),
    path("manager/third-party/", third_party_views.provision_list, name="provision_list"),
    path(
        "third-party/<uuid:pk>/<slug:action>/",
        third_party_views.provision_action,
        name="provision_action",
    ),
    # Records the law expects: access review, contractors (委託先), training.
    path("manager/access-review/", record_views.access_review, name="access_review"),
    path("manager/contractors/", record_views.contractors, name="contractors"),
    path("manager/contractors/<int:pk>/", record_views.contractor, name="contractor"),
    path("manager/training/", record_views.training, name="training"),
    path("staff/contractors/", record_views.contractor_staff, name="contractor_staff"),
    # Terminals (issue 15): the shop's own computers, the only ones that show customer data.
    path("terminals/", terminal_views.terminal_list, name="terminals"),
    path("terminals/register/", terminal_views.terminal_register, name="terminal_register"),
    path("terminals/<uuid:pk>/revoke/", terminal_views.terminal_revoke, name="terminal_revoke"),
    path("audit/", audit_views.audit_log, name="audit_log"),
    path("audit/export.csv", audit_views.audit_export, name="audit_export"),
    path("audit/verify/", audit_views.audit_verify, name="audit_verify"),
]
