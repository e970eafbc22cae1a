from django.contrib import admin
from django.urls import include, path

from config import views

urlpatterns = [
    path("", views.home, name="home"),
    path("rooms/<slug:slug>/", views.room, name="room"),
    path("api/rooms/online/", views.online_json, name="online-json"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("accounts/login/", views.DemoLoginView.as_view(), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("wsapp/", include("wsapp.urls")),
]
