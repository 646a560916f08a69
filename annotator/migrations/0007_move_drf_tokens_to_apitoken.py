"""Move DRF's plain-text tokens (rest_framework.authtoken, no longer installed)
into the hashed ApiToken table, so existing scripts keep their keys, then
empty the old table so no key stays readable. Raw SQL: the old app is gone
from INSTALLED_APPS, so its model is not in the migration state."""

from datetime import timedelta

from django.conf import settings
from django.db import migrations
from django.utils import timezone


def move_tokens(apps, schema_editor):
    from annotator import tokens

    connection = schema_editor.connection
    if "authtoken_token" not in connection.introspection.table_names():
        return
    ApiToken = apps.get_model("annotator", "ApiToken")
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    expiry = timezone.now() + timedelta(days=settings.API_TOKEN_TTL_DAYS)
    with connection.cursor() as cursor:
        cursor.execute("SELECT key, user_id, created FROM authtoken_token")
        rows = cursor.fetchall()
    passwords = dict(User.objects.filter(pk__in=[r[1] for r in rows]).values_list("pk", "password"))
    ApiToken.objects.bulk_create(
        [
            ApiToken(
                digest=tokens.hash_key(key),
                token_key=key[: tokens.TOKEN_KEY_LENGTH],
                user_id=user_id,
                name="Token from before hashed tokens",
                password_stamp=tokens.password_stamp(passwords[user_id]),
                expiry=expiry,
            )
            for key, user_id, created in rows
            if user_id in passwords
        ],
        ignore_conflicts=True,
    )
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM authtoken_token")


class Migration(migrations.Migration):
    dependencies = [("annotator", "0006_add_apitoken_securityevent")]

    # The old keys are gone once hashed: going back leaves the old table empty.
    operations = [migrations.RunPython(move_tokens, migrations.RunPython.noop)]
