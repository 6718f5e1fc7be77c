from django.contrib.auth import views as auth_views
from django.urls import include, path

from bookshop import views
from privacy.views import accounts as account_views
from privacy.views import public as public_views
from privacy.views import requests as request_views
from privacy.views import setup as setup_views
from privacy.views.account_forms import StaffLoginForm

urlpatterns = [
    path("", views.home, name="home"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            redirect_authenticated_user=True, authentication_form=StaffLoginForm
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/2fa/setup/", account_views.two_factor_setup, name="two_factor_setup"),
    path("account/2fa/verify/", account_views.two_factor_verify, name="two_factor_verify"),
    path("account/password/", account_views.PasswordChange.as_view(), name="password_change"),
    path(
        "account/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    # Accounts (issue 15): the one-time setup link, and re-authentication.
    path("account/setup/", setup_views.setup, name="account_setup"),
    path("account/setup/<str:token>/", setup_views.setup_link, name="account_setup_link"),
    path("account/reauth/", setup_views.reauth_view, name="reauth"),
    path("rules/", account_views.rules_acknowledge, name="rules_acknowledge"),
    path("rules/edit/", account_views.rules_edit, name="rules_edit"),
    path("staff/", account_views.staff_list, name="staff_list"),
    path("staff/<int:user_id>/<slug:action>/", account_views.staff_action, name="staff_action"),
    path("i18n/setlang/", views.set_language, name="set_language"),
    path("privacy/", public_views.privacy_notice, name="privacy_notice"),
    path("privacy/request/", request_views.public_request, name="public_request"),
    path(
        "privacy/disclosure/<str:token>/",
        request_views.disclosure_download,
        name="disclosure_download",
    ),
    path("", include("customers.urls")),
    path("", include("privacy.urls")),
    path("", include("privacy.incidents.urls")),
]

handler500 = "bookshop.views.server_error"
