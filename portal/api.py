"""The base of every REST view: tenant scoping that cannot be forgotten, and one error shape."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model, QuerySet
from django.http import Http404
from rest_framework import exceptions, generics, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from portal.models import Organisation


class OrganisationScopedMixin:
    """Views whose rows belong to an organisation.

    Subclasses implement `scoped_queryset(organisation)`; `get_queryset` always passes the
    requesting user's organisation, so another organisation's row is simply not found (404).
    """

    def scoped_queryset(self, organisation: Organisation) -> QuerySet[Model]:
        raise NotImplementedError

    def get_queryset(self) -> QuerySet[Model]:
        organisation = getattr(self.request.user, "organisation", None)
        if organisation is None:
            raise exceptions.NotFound()
        return self.scoped_queryset(organisation)


class ScopedListView(OrganisationScopedMixin, generics.ListAPIView):
    pass


class ScopedRetrieveView(OrganisationScopedMixin, generics.RetrieveAPIView):
    pass


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's handler, plus Django's PermissionDenied/ValidationError/Http404 as JSON errors."""
    if isinstance(exc, DjangoValidationError):
        return Response({"errors": exc.messages}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    return drf_exception_handler(exc, context)
