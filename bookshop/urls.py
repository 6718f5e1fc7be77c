from django.contrib.auth import views as auth_views
from django.urls import include, path

from bookshop import views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/setlang/", views.set_language, name="set_language"),
    path("", include("customers.urls")),
    path("", include("privacy.urls")),
]
