"""The caller's own API tokens: list, create (the key is answered once),
rotate and revoke. Nobody reaches another person's tokens here: every lookup
goes through list_api_tokens_of(request.user)."""

from __future__ import annotations

import uuid

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import selectors
from ..models import ApiToken
from ..services import security
from .strict import StrictInput


class ApiTokenOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    starts_with = serializers.CharField(source="token_key", read_only=True)

    class Meta:
        model = ApiToken
        fields = ["id", "name", "starts_with", "created", "expiry", "last_used"]


class ApiTokenCreatedOut(ApiTokenOut):
    key = serializers.CharField(read_only=True, help_text="The token itself; shown this once, never again.")

    class Meta(ApiTokenOut.Meta):
        fields = [*ApiTokenOut.Meta.fields, "key"]


class ApiTokenIn(StrictInput):
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


TOKEN_ID = OpenApiParameter(
    "public_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The token's id (from the list)."
)


def _own_token(request, public_id: str) -> ApiToken:
    """One of the caller's tokens; a 404 (JSON) for anyone else's or a malformed id."""
    try:
        public_id = uuid.UUID(public_id)
    except ValueError:
        raise NotFound("No such token.") from None
    return get_object_or_404(selectors.list_api_tokens_of(request.user), public_id=public_id)


def _created(token: ApiToken, key: str) -> Response:
    token.key = key
    return Response(ApiTokenCreatedOut(token).data, status=status.HTTP_201_CREATED)


class TokenListCreate(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=ApiTokenOut(many=True), summary="Your API tokens (never their keys)")
    def get(self, request):
        return Response(ApiTokenOut(selectors.list_api_tokens_of(request.user), many=True).data)

    @extend_schema(
        request=ApiTokenIn, responses={201: ApiTokenCreatedOut}, summary="Create an API token (key shown once)"
    )
    def post(self, request):
        data = ApiTokenIn(data=request.data)
        data.is_valid(raise_exception=True)
        token, key = security.create_api_token(user=request.user, name=data.validated_data["name"], request=request)
        return _created(token, key)


class TokenRevoke(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(parameters=[TOKEN_ID], responses={204: None}, summary="Revoke one of your API tokens")
    def delete(self, request, public_id):
        token = _own_token(request, public_id)
        security.revoke_api_token(user=request.user, token=token, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenRotate(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        parameters=[TOKEN_ID],
        request=None,
        responses={201: ApiTokenCreatedOut},
        summary="Replace one of your API tokens by a new one",
    )
    def post(self, request, public_id):
        token = _own_token(request, public_id)
        new_token, key = security.rotate_api_token(user=request.user, token=token, request=request)
        return _created(new_token, key)
