"""The API's pagination (its own module: DRF reads it while importing its generic views)."""

from rest_framework import exceptions, pagination


class StrictPageNumberPagination(pagination.PageNumberPagination):
    """Page numbers as the schema states them: a `page` that is given must be a positive
    integer (DRF alone would read `?page=` as page 1); one past the end answers 404."""

    def get_page_number(self, request, paginator):
        value = request.query_params.get(self.page_query_param)
        if value is not None and not (value.isascii() and value.isdigit() and int(value) > 0):
            raise exceptions.ValidationError({"errors": ["page: a positive integer is required"]})
        return super().get_page_number(request, paginator)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
        return parameters
