"""The search form: what a reader may filter the inbox and own publications by."""

from typing import Any

from django import forms
from django.db.models import QuerySet

from portal.models import Organisation, TrustGroup
from sharing import stix
from sharing.models import TlpLevel
from sharing.reading import Scope, SearchFilters

# STIX 2.1 object types (sections 4 to 7): domain, relationship, cyber-observable, meta.
STIX_TYPES = sorted(
    [
        *stix.DOMAIN_OBJECT_TYPES,
        *stix.RELATIONSHIP_OBJECT_TYPES,
        *stix.PATTERN_OBJECT_TYPES,
        *stix.META_OBJECT_TYPES,
    ]
)


class SearchForm(forms.Form):
    q = forms.CharField(label="Text in names and descriptions", required=False, max_length=200)
    observable = forms.CharField(
        label="Observable value (IP address, domain, URL, hash…)", required=False, max_length=512
    )
    type = forms.ChoiceField(
        label="STIX type",
        required=False,
        choices=[("", "any")] + [(name, name) for name in STIX_TYPES],
    )
    tlp = forms.ChoiceField(label="TLP", required=False, choices=[("", "any"), *TlpLevel.choices])
    publisher = forms.ModelChoiceField(
        label="Publisher", required=False, queryset=Organisation.objects.none(), empty_label="any"
    )
    trust_group = forms.ModelChoiceField(
        label="Trust group", required=False, queryset=TrustGroup.objects.none(), empty_label="any"
    )
    since = forms.DateField(
        label="Shared from", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label="Shared until", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    scope = forms.ChoiceField(
        label="Search in", required=False, choices=Scope.CHOICES, initial=Scope.ALL
    )
    after = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(
        self,
        *args: Any,
        publishers: QuerySet[Organisation],
        trust_groups: QuerySet[TrustGroup],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["publisher"].queryset = publishers
        self.fields["trust_group"].queryset = trust_groups

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise forms.ValidationError("The start date is after the end date.")
        return data

    def filters(self) -> SearchFilters:
        data = self.cleaned_data
        return SearchFilters(
            text=data.get("q", "").strip(),
            observable=data.get("observable", "").strip(),
            stix_type=data.get("type", ""),
            tlp=data.get("tlp", ""),
            publisher_id=data["publisher"].id if data.get("publisher") else None,
            trust_group_id=data["trust_group"].id if data.get("trust_group") else None,
            since=data.get("since"),
            until=data.get("until"),
            scope=data.get("scope") or Scope.ALL,
        )

    def cleaned_query(self) -> dict[str, str]:
        """The submitted filters, for the next page's link."""
        return {key: value for key, value in self.data.items() if value and key in self.fields}
