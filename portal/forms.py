from django import forms
from django.contrib.auth.password_validation import validate_password

from portal import permissions
from portal.models import Organisation, Role, Sector, TokenScope


class JoinRequestForm(forms.Form):
    organisation_name = forms.CharField(max_length=200)
    sector = forms.ChoiceField(choices=Sector.choices)
    country = forms.RegexField(
        regex=r"^[A-Za-z]{2}$",
        max_length=2,
        help_text="Two-letter ISO 3166-1 code, e.g. DE",
        error_messages={"invalid": "Enter the two-letter ISO country code, e.g. DE."},
    )
    contact_name = forms.CharField(max_length=200, label="Contact person")
    contact_email = forms.EmailField(label="Contact email")
    justification = forms.CharField(
        max_length=2000,
        min_length=20,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="Who you are and why your organisation should join (20 to 2000 characters).",
    )


class RejectForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)


class InviteForm(forms.Form):
    email = forms.EmailField()
    role = forms.TypedChoiceField(choices=Role.choices, coerce=int, initial=Role.READER)


class RenameJoinRequestForm(forms.Form):
    organisation_name = forms.CharField(max_length=200, label="Organisation name")


class RoleForm(forms.Form):
    role = forms.TypedChoiceField(choices=Role.choices, coerce=int)


class AcceptInvitationForm(forms.Form):
    full_name = forms.CharField(max_length=200)
    password = forms.CharField(widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    password_again = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def __init__(self, *args, email: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self):
        data = super().clean()
        if data.get("password") != data.get("password_again"):
            raise forms.ValidationError("The two passwords differ.")
        if data.get("password"):
            from portal.models import User

            validate_password(data["password"], User(email=self.email))
        return data


class TrustGroupForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


class TrustGroupMemberForm(forms.Form):
    organisation = forms.ModelChoiceField(queryset=Organisation.objects.all())


class TrustGroupRequestForm(forms.Form):
    message = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=1000
    )


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100)
    scope = forms.ChoiceField(choices=TokenScope.choices, initial=TokenScope.READ)
    expires_in_days = forms.IntegerField(
        min_value=1, max_value=365, initial=90, help_text="1 to 365 days"
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        # Offer only the scopes the user's role allows (the service enforces it as well).
        if permissions.max_token_scope(user) == TokenScope.READ:
            self.fields["scope"].choices = [(TokenScope.READ, TokenScope.READ.label)]


class RegisterKeyForm(forms.Form):
    public_key = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=2000,
        help_text="Ed25519 public key: 64 hex digits or a PEM block (-----BEGIN PUBLIC KEY-----).",
    )


class RotateKeyForm(RegisterKeyForm):
    at = forms.DateTimeField(
        required=False,
        help_text="When the old key stops signing (UTC, YYYY-MM-DD HH:MM); empty: now.",
    )


class RevokeKeyForm(forms.Form):
    reason = forms.CharField(max_length=500)
    at = forms.DateTimeField(
        required=False, help_text="Revoked from (UTC, YYYY-MM-DD HH:MM); empty: now."
    )
