from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from annotator.views import accounts
from config import health, moved_api

# One API root: every JSON endpoint is under /api/, in one namespace (api:queue-next,
# api:agreement, api:run-list) and one OpenAPI schema (/api/schema/). Each app keeps its
# own routes; they meet here, so annotator imports nothing from the apps above it.
api_urlpatterns = [
    path("", include("annotator.api.urls")),  # first: the labelling loop's requests resolve soonest
    path("projects/<slug:slug>/", include("analysis.api_urls")),
    path("projects/<slug:slug>/", include("inference.api_urls")),
]

urlpatterns = [
    path("api/", include((api_urlpatterns, "api"))),  # first, for the labelling loop
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", accounts.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file (?script), not inline: our CSP allows no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    # Browsers ask for /favicon.ico on pages that name none (the admin).
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)),
    path("analysis/", include("analysis.urls")),
    path("inference/", include("inference.urls")),
    path("", include("annotator.urls")),
    # The JSON endpoints' old homes (before 2026-12): 308 to the same endpoint under /api/.
    *moved_api.redirects("analysis/api/", "analysis.api_urls"),
    *moved_api.redirects("inference/api/", "inference.api_urls"),
]
