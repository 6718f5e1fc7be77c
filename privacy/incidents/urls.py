from django.urls import path

from privacy.incidents import views

app_name = "incidents"

urlpatterns = [
    path("manager/incidents/", views.register, name="register"),
    path("manager/incidents/new/", views.incident_new, name="incident_new"),
    path("manager/incidents/<uuid:pk>/", views.incident_detail, name="incident_detail"),
    path("manager/incidents/<uuid:pk>/edit/", views.incident_edit, name="incident_edit"),
    path(
        "manager/incidents/<uuid:pk>/<slug:action>/",
        views.incident_action,
        name="incident_action",
    ),
]
