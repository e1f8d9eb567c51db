# Issue 10: the calendar reads its visible range by start time; appointments last at
# most a day (the services' rule, now also the database's), which bounds that range.

import datetime
import django.db.models.expressions
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("calendar_app", "0010_cancellation_reason_rules"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="appointment",
            index=models.Index(fields=["starts_at"], name="appt_start"),
        ),
        migrations.AddConstraint(
            model_name="appointment",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "ends_at__lte",
                        django.db.models.expressions.CombinedExpression(
                            models.F("starts_at"), "+", models.Value(datetime.timedelta(days=1))
                        ),
                    )
                ),
                name="appointment_at_most_a_day",
            ),
        ),
    ]
