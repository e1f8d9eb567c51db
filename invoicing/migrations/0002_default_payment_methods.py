from django.db import migrations

DEFAULTS = ["Credit card", "EFTPOS", "Cash", "Direct deposit", "Cheque"]


def create(apps, schema_editor):
    PaymentMethod = apps.get_model("invoicing", "PaymentMethod")
    for name in DEFAULTS:
        PaymentMethod.objects.get_or_create(name=name)


class Migration(migrations.Migration):
    dependencies = [("invoicing", "0001_initial")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
