"""The first admin account: created once, password only in the file."""

import stat
from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_creates_admin_once_with_password_in_private_file(tmp_path):
    password_file = tmp_path / "admin-password"
    out = StringIO()
    call_command("ensure_admin", password_file=password_file, stdout=out)

    password = password_file.read_text().strip()
    assert authenticate(username="admin", password=password).is_superuser
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    assert password not in out.getvalue()

    call_command("ensure_admin", password_file=password_file, stdout=StringIO())
    assert get_user_model().objects.filter(is_superuser=True).count() == 1
    assert password_file.read_text().strip() == password
