"""Shiori's own URLs, plus the baseline pages under /bench/<plain|fernet>/."""

from django.urls import include, path

from bookshop.urls import handler500
from bookshop.urls import urlpatterns as shiori_urlpatterns

urlpatterns = [
    path("bench/<str:kind>/", include("bench.baseline.urls")),
    *shiori_urlpatterns,
]

__all__ = ["handler500", "urlpatterns"]
