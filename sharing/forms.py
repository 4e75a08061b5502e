from django import forms

from portal.models import Organisation, TrustGroup
from sharing.models import AcknowledgementOutcome, Distribution, NotificationChannel, TlpLevel
from sharing.services.inbox import COMMENT_MAX_LENGTH
from sharing.services.subscriptions import FILTERABLE_TYPES, MAX_LABEL_LENGTH, MAX_LABELS


class PublishForm(forms.Form):
    bundle_text = forms.CharField(
        label="STIX 2.1 bundle (JSON)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false", "class": "mono"}),
    )
    bundle_file = forms.FileField(label="…or upload a bundle file", required=False)
    distribution = forms.ChoiceField(
        choices=Distribution.choices, initial=Distribution.TRUST_GROUPS, widget=forms.RadioSelect
    )
    trust_groups = forms.ModelMultipleChoiceField(
        queryset=TrustGroup.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )
    tlp = forms.ChoiceField(choices=TlpLevel.choices, initial=TlpLevel.AMBER)

    def __init__(self, *args, trust_groups, max_bytes: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["trust_groups"].queryset = trust_groups
        self.max_bytes = max_bytes

    def clean(self):
        data = super().clean()
        upload = data.get("bundle_file")
        if upload is not None:
            if upload.size > self.max_bytes:
                raise forms.ValidationError(
                    f"The file is {upload.size} bytes; the limit is {self.max_bytes}."
                )
            data["bundle"] = upload.read()
        elif data.get("bundle_text"):
            data["bundle"] = data["bundle_text"]
        else:
            raise forms.ValidationError("Paste a bundle or upload a file.")
        return data


class FilterForm(forms.Form):
    """The filters of a subscriber (sharing.models.DeliveryFilter): the choices offered are the
    community's organisations and the trust groups of the user's own organisation only."""

    publishers = forms.ModelMultipleChoiceField(
        queryset=Organisation.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Only from these organisations",
        help_text="None ticked: from any organisation.",
    )
    trust_groups = forms.ModelMultipleChoiceField(
        queryset=TrustGroup.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Only shared with these trust groups",
        help_text="None ticked: whatever the distribution.",
    )
    stix_types = forms.MultipleChoiceField(
        choices=[(t, t) for t in FILTERABLE_TYPES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Only with objects of these STIX types",
    )
    min_tlp = forms.ChoiceField(
        choices=[("", "Any TLP"), *TlpLevel.choices],
        required=False,
        label="Only at least this sensitive",
    )
    labels = forms.CharField(
        required=False,
        max_length=MAX_LABELS * (MAX_LABEL_LENGTH + 2),
        label="Only with one of these labels",
        help_text="Comma-separated STIX labels, e.g. phishing, ransomware.",
    )

    def __init__(self, *args, organisations, trust_groups, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["publishers"].queryset = organisations
        self.fields["trust_groups"].queryset = trust_groups

    @staticmethod
    def initial_from(subscriber) -> dict:
        return {
            "publishers": subscriber.publisher_ids,
            "trust_groups": subscriber.trust_group_ids,
            "stix_types": subscriber.stix_types,
            "min_tlp": subscriber.min_tlp,
            "labels": ", ".join(subscriber.labels),
        }

    def filters(self) -> dict:
        """The cleaned filters, in the services' terms."""
        data = self.cleaned_data
        return {
            "publisher_ids": [o.id for o in data["publishers"]],
            "trust_group_ids": [g.id for g in data["trust_groups"]],
            "stix_types": list(data["stix_types"]),
            "min_tlp": data["min_tlp"],
            "labels": [part.strip() for part in data["labels"].split(",") if part.strip()],
        }


class WebhookForm(FilterForm):
    url = forms.URLField(label="Endpoint URL", max_length=500, assume_scheme="https")
    description = forms.CharField(max_length=200, required=False)
    field_order = ["url", "description"]


class NotificationForm(FilterForm):
    channel = forms.ChoiceField(
        choices=NotificationChannel.choices, widget=forms.RadioSelect, label="Email me"
    )
    field_order = ["channel"]


class DraftPublishForm(forms.Form):
    """Distribution and TLP of a draft being published (the bundle comes from the draft)."""

    distribution = forms.ChoiceField(
        choices=Distribution.choices, initial=Distribution.TRUST_GROUPS, widget=forms.RadioSelect
    )
    trust_groups = forms.ModelMultipleChoiceField(
        queryset=TrustGroup.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )
    tlp = forms.ChoiceField(choices=TlpLevel.choices, initial=TlpLevel.AMBER)

    def __init__(self, *args, trust_groups, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["trust_groups"].queryset = trust_groups


class DraftForm(forms.Form):
    title = forms.CharField(max_length=300)


class MispImportForm(forms.Form):
    event_file = forms.FileField(label="MISP event (JSON export)", required=False)
    event_text = forms.CharField(
        label="…or paste the event JSON",
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false", "class": "mono"}),
    )

    def __init__(self, *args, max_bytes: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_bytes = max_bytes

    def clean(self):
        data = super().clean()
        upload = data.get("event_file")
        if upload is not None:
            if upload.size > self.max_bytes:
                raise forms.ValidationError(
                    f"The file is {upload.size} bytes; the limit is {self.max_bytes}."
                )
            data["event"] = upload.read()
        elif data.get("event_text"):
            data["event"] = data["event_text"]
        else:
            raise forms.ValidationError("Upload or paste a MISP event.")
        return data


class AcknowledgeForm(forms.Form):
    """The recipient's own verdict on a delivery (sharing.services.inbox)."""

    outcome = forms.ChoiceField(
        choices=AcknowledgementOutcome.choices, widget=forms.RadioSelect, label="Your verdict"
    )
    comment = forms.CharField(
        required=False,
        max_length=COMMENT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Comment for the publisher (optional)",
    )
