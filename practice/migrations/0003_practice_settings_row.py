from django.db import migrations


def create(apps, schema_editor):
    PracticeSettings = apps.get_model("caspen", "PracticeSettings")
    PracticeSettings.objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("caspen", "0002_roles")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
