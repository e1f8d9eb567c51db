"""Two requests: one primary-key query as JSON (the pages' floor) and a plain DRF list of
50 rows of the same table (the API lists' floor)."""

from django.http import HttpRequest, JsonResponse
from django.urls import path
from rest_framework import generics, serializers
from rest_framework.pagination import PageNumberPagination

from bench.floor.models import Client

FIELDS = ["id", "first_name", "last_name", "email", "phone", "date_of_birth", "notes", "archived"]


def client_row(request: HttpRequest, pk: int) -> JsonResponse:
    row = Client.objects.filter(pk=pk).values(*FIELDS).first()
    return JsonResponse({"client": row})


class ClientOut(serializers.ModelSerializer):
    class Meta:
        model = Client
        fields = FIELDS


class Fifty(PageNumberPagination):
    page_size = 50


class ClientList(generics.ListAPIView):
    queryset = Client.objects.order_by("last_name", "first_name", "id")
    serializer_class = ClientOut
    pagination_class = Fifty


urlpatterns = [
    path("client/<int:pk>/", client_row),
    path("api/clients/", ClientList.as_view()),
]
