from django.urls import path

from privacy import views

app_name = "privacy"

urlpatterns = [
    path("customers/<uuid:pk>/access/grant/", views.access_grant, name="access_grant"),
    path("access/<int:grant_id>/revoke/", views.access_revoke, name="access_revoke"),
    path("manager/find/", views.find_any_customer, name="find_any_customer"),
    path("manager/hours/", views.hours_override, name="hours_override"),
    path("manager/notices/", views.notices, name="notices"),
    path("audit/", views.audit_log, name="audit_log"),
    path("audit/export.csv", views.audit_export, name="audit_export"),
]
