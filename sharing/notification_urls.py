"""URLs of the notification pages (included by portal.urls)."""

from django.urls import path

from sharing import views_notifications as views

urlpatterns = [
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/defaults/", views.notification_defaults, name="notification-defaults"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
