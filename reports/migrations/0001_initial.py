from django.db import migrations, models


def give_roles_the_reports_permission(apps, schema_editor):
    from practice.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("caspen", "0008_api_throttle_window"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.CreateModel(
            name="Report",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
            ],
            options={
                "managed": False,
                "default_permissions": (),
                "permissions": [("view_reports", "Can view reports")],
            },
        ),
        migrations.RunPython(give_roles_the_reports_permission, migrations.RunPython.noop),
    ]
