from django.db import migrations


def create_roles(apps, schema_editor):
    from practice.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("caspen", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("clients", "0001_initial"),
        ("catalog", "0001_initial"),
        ("packages", "0001_initial"),
        ("calendar_app", "0002_initial"),
        ("invoicing", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
