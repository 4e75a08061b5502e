from django import forms

from portal.models import TrustGroup
from sharing.models import AcknowledgementOutcome, Distribution, TlpLevel
from sharing.services.inbox import COMMENT_MAX_LENGTH


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


class WebhookForm(forms.Form):
    url = forms.URLField(label="Endpoint URL", max_length=500, assume_scheme="https")
    description = forms.CharField(max_length=200, required=False)


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
