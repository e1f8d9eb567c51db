from decimal import Decimal

from django.db import migrations


def create(apps, schema_editor):
    TaxRate = apps.get_model("catalog", "TaxRate")
    TaxRate.objects.get_or_create(name="GST", defaults={"rate": Decimal("10.00")})
    TaxRate.objects.get_or_create(name="GST-free", defaults={"rate": Decimal("0.00")})


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
