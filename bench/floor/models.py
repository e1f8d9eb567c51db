from django.db import models


class Client(models.Model):
    """The app's client table, read as it is (unmanaged: the floor creates nothing)."""

    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    email = models.CharField(max_length=254)
    phone = models.CharField(max_length=40)
    date_of_birth = models.DateField(null=True)
    notes = models.TextField()
    archived = models.BooleanField()

    class Meta:
        managed = False
        db_table = "clients_client"
        app_label = "floor"

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}"
