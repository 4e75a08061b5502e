from django.urls import path

from portal.audit import views

urlpatterns = [
    path("", views.event_list, name="audit"),
    path("export.csv", views.export_csv, name="audit-export"),
]
