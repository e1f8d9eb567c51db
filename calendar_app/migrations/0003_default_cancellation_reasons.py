from django.db import migrations

DEFAULTS = [
    "Client request",
    "Client unwell",
    "Practitioner unavailable",
    "Rescheduled",
    "Weather or travel",
    "Other",
]


def create(apps, schema_editor):
    CancellationReason = apps.get_model("calendar_app", "CancellationReason")
    for name in DEFAULTS:
        CancellationReason.objects.get_or_create(name=name)


class Migration(migrations.Migration):
    dependencies = [("calendar_app", "0002_initial")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
