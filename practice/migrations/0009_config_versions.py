"""Version counters for what server processes keep in memory (practice.versions): a
permission or role change, or a change of the practice's currency, bumps its counter in
the same transaction, so every process sees the change on its next request.

Triggers, not signals: bulk updates, the admin, raw SQL and another app host all bump it.
The values come from a sequence, so a rolled-back bump is never reused.
"""

from django.db import migrations

AUTH_TABLES = (
    "auth_user_groups",
    "auth_group_permissions",
    "auth_user_user_permissions",
    "auth_group",
    "auth_permission",
    "django_content_type",
)

FORWARD = [
    "CREATE SEQUENCE caspen_config_version_seq",
    """
    CREATE TABLE caspen_config_version (
        id smallint PRIMARY KEY CHECK (id = 1),
        auth bigint NOT NULL,
        settings bigint NOT NULL
    )
    """,
    """
    INSERT INTO caspen_config_version (id, auth, settings)
    VALUES (1, nextval('caspen_config_version_seq'), nextval('caspen_config_version_seq'))
    """,
    """
    CREATE FUNCTION caspen_bump_auth_version() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO caspen_config_version (id, auth, settings)
        VALUES (1, nextval('caspen_config_version_seq'), nextval('caspen_config_version_seq'))
        ON CONFLICT (id) DO UPDATE SET auth = EXCLUDED.auth;
        RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION caspen_bump_settings_version() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE' THEN
            IF OLD.currency IS NOT DISTINCT FROM NEW.currency THEN
                RETURN NULL;
            END IF;
        END IF;
        INSERT INTO caspen_config_version (id, auth, settings)
        VALUES (1, nextval('caspen_config_version_seq'), nextval('caspen_config_version_seq'))
        ON CONFLICT (id) DO UPDATE SET settings = EXCLUDED.settings;
        RETURN NULL;
    END $$
    """,
    *(
        f"""
        CREATE TRIGGER caspen_bump_auth_version
        AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
        FOR EACH STATEMENT EXECUTE FUNCTION caspen_bump_auth_version()
        """
        for table in AUTH_TABLES
    ),
    """
    CREATE TRIGGER caspen_bump_settings_version
    AFTER INSERT OR UPDATE OR DELETE ON caspen_practicesettings
    FOR EACH ROW EXECUTE FUNCTION caspen_bump_settings_version()
    """,
    """
    CREATE TRIGGER caspen_bump_settings_version_truncate
    AFTER TRUNCATE ON caspen_practicesettings
    FOR EACH STATEMENT EXECUTE FUNCTION caspen_bump_settings_version()
    """,
]

BACKWARD = [
    *(f"DROP TRIGGER caspen_bump_auth_version ON {table}" for table in AUTH_TABLES),
    "DROP TRIGGER caspen_bump_settings_version ON caspen_practicesettings",
    "DROP TRIGGER caspen_bump_settings_version_truncate ON caspen_practicesettings",
    "DROP FUNCTION caspen_bump_settings_version()",
    "DROP FUNCTION caspen_bump_auth_version()",
    "DROP TABLE caspen_config_version",
    "DROP SEQUENCE caspen_config_version_seq",
]


class Migration(migrations.Migration):
    dependencies = [
        ("caspen", "0008_api_throttle_window"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
