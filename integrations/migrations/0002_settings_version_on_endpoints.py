"""Any change of webhook endpoints bumps the settings version (practice.versions), in the
same transaction, as changes of practitioners and locations do (calendar_app 0013, whose
function this trigger runs): each process keeps the endpoints subscribed to an event type
per version (integrations.services), and a change is seen on every process's next
request. A statement trigger: bulk updates, the admin and raw SQL bump it too."""

from django.db import migrations

FORWARD = """
    CREATE TRIGGER caspen_bump_settings_version
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON integrations_webhookendpoint
    FOR EACH STATEMENT EXECUTE FUNCTION caspen_bump_settings_version_any()
"""
BACKWARD = "DROP TRIGGER caspen_bump_settings_version ON integrations_webhookendpoint"


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0001_initial"),
        ("calendar_app", "0013_settings_version_on_calendar"),
    ]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
