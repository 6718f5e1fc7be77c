from django.urls import path

from privacy.views import exports as export_views
from privacy.views import manager as views
from privacy.views import requests as request_views
from privacy.views import retention as retention_views
from privacy.views import third_party as third_party_views

app_name = "privacy"

urlpatterns = [
    path("customers/<uuid:pk>/access/grant/", views.access_grant, name="access_grant"),
    path("access/<int:grant_id>/revoke/", views.access_revoke, name="access_revoke"),
    path("manager/find/", views.find_any_customer, name="find_any_customer"),
    path("manager/hours/", views.hours_override, name="hours_override"),
    path("manager/notices/", views.notices, name="notices"),
    path("requests/", request_views.request_board, name="request_board"),
    path("requests/new/", request_views.counter_request, name="counter_request"),
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
    path("audit/", views.audit_log, name="audit_log"),
    path("audit/export.csv", views.audit_export, name="audit_export"),
]
