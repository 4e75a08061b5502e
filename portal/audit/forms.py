"""Filters of the audit trail pages."""

from django import forms

from portal.audit.models import AuditAction


class AuditFilterForm(forms.Form):
    """The audit list's filters, from GET parameters; all optional."""

    action = forms.ChoiceField(choices=[("", "Any action"), *AuditAction.choices], required=False)
    actor = forms.CharField(label="Actor email", max_length=254, required=False)
    date_from = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def filters(self) -> dict:
        """Keyword arguments for selectors.search_events; invalid fields are ignored."""
        self.is_valid()  # fills cleaned_data with the fields that are valid
        data = self.cleaned_data
        return {
            "action": data.get("action") or "",
            "actor_email": data.get("actor") or "",
            "date_from": data.get("date_from"),
            "date_to": data.get("date_to"),
        }
