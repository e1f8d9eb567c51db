"""The settings version counter (practice.versions, migration caspen.0009) is bumped by
any change of practitioners, locations or working hours too, in the same transaction:
the calendar keeps them per process under that version (calendar_app.selectors), so a
change is seen by every process on its next request.

Statement triggers: bulk updates, the admin, raw SQL and another app host all bump it.
"""

from django.db import migrations

TABLES = ("calendar_app_practitioner", "calendar_app_location", "calendar_app_workinghours")

FORWARD = [
    """
    CREATE FUNCTION caspen_bump_settings_version_any() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO caspen_config_version (id, auth, settings)
        VALUES (1, nextval('caspen_config_version_seq'), nextval('caspen_config_version_seq'))
        ON CONFLICT (id) DO UPDATE SET settings = EXCLUDED.settings;
        RETURN NULL;
    END $$
    """,
    *(
        f"""
        CREATE TRIGGER caspen_bump_settings_version
        AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
        FOR EACH STATEMENT EXECUTE FUNCTION caspen_bump_settings_version_any()
        """
        for table in TABLES
    ),
]

BACKWARD = [
    *(f"DROP TRIGGER caspen_bump_settings_version ON {table}" for table in TABLES),
    "DROP FUNCTION caspen_bump_settings_version_any()",
]


class Migration(migrations.Migration):
    dependencies = [
        ("calendar_app", "0012_updated_at"),
        ("caspen", "0009_config_versions"),
    ]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
