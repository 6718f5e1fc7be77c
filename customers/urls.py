from django.urls import path

from customers import isbn_views, notice_views, print_views, views

app_name = "customers"

urlpatterns = [
    path("board/", views.board, name="board"),
    path("orders/new/", views.order_new, name="order_new"),
    path("orders/<uuid:pk>/<slug:step>/", views.order_transition, name="order_transition"),
    # Outbox and ISBN lookup (issue 16)
    path(
        "orders/<uuid:pk>/notice/<slug:action>/",
        notice_views.order_notice,
        name="order_notice",
    ),
    path("books/isbn/", isbn_views.isbn_lookup, name="isbn_lookup"),
    path("customers/search/", views.customer_search, name="customer_search"),
    path("customers/<uuid:pk>/", views.customer_detail, name="customer_detail"),
    path("customers/<uuid:pk>/edit/", views.customer_edit, name="customer_edit"),
    path("customers/<uuid:pk>/confirm/", views.customer_confirm, name="customer_confirm"),
    path(
        "customers/<uuid:pk>/orders/new/",
        views.order_new_for_customer,
        name="order_new_for_customer",
    ),
    path("shipments/", views.shipment, name="shipment"),
    path("print/pickup-list/", print_views.print_pickup_list, name="print_pickup_list"),
    path("print/orders/<uuid:pk>/slip/", print_views.print_order_slip, name="print_order_slip"),
    path("print/<uuid:pk>/", print_views.print_job, name="print_job"),
    path("manager/prints/", print_views.print_log, name="print_log"),
]
