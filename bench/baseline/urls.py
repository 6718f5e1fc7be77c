from django.urls import path

from bench.baseline import views

app_name = "baseline"

urlpatterns = [
    path("board/", views.board, name="board"),
    path("customers/<uuid:pk>/", views.customer_detail, name="customer_detail"),
    path("orders/new/", views.order_new, name="order_new"),
]
