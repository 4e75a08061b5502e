"""Bulk updates for the pipeline's batches.

Django's `bulk_update` writes one `CASE WHEN id = ... THEN ...` expression per row and field;
building and parsing it costs more than the work itself once a batch holds hundreds of rows.
On PostgreSQL, `bulk_set` sends `UPDATE ... FROM (VALUES ...)` instead: one row of values per
object, typed by casts. Elsewhere it is `bulk_update`.
"""

from collections.abc import Sequence

from django.db import connection
from django.db.models import Model


def bulk_set(objects: Sequence[Model], fields: Sequence[str], *, batch_size: int = 1000) -> None:
    """Write `fields` of every object (same model, saved already), as `bulk_update` would."""
    if not objects:
        return
    model = type(objects[0])
    if connection.vendor != "postgresql":
        model.objects.bulk_update(objects, fields, batch_size=batch_size)
        return
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    row = "(" + ", ".join(f"%s::{f.db_type(connection)}" for f in [meta.pk, *columns]) + ")"
    names = ", ".join(quote(name) for name in ["pk", *(f.column for f in columns)])
    assignments = ", ".join(f"{quote(f.column)} = v.{quote(f.column)}" for f in columns)
    for start in range(0, len(objects), batch_size):
        chunk = objects[start : start + batch_size]
        params = []
        for obj in chunk:
            params.append(obj.pk)
            params += [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in columns]
        sql = (
            f"UPDATE {quote(meta.db_table)} SET {assignments} "
            f"FROM (VALUES {', '.join([row] * len(chunk))}) AS v({names}) "
            f"WHERE {quote(meta.db_table)}.{quote(meta.pk.column)} = v.{quote('pk')}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
