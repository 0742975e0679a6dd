"""Single sign-on: the sign-in buttons, the one-time code's exchange, and the admins' set-up."""

from __future__ import annotations

from datetime import datetime

import strawberry

from errors import Problem
from models import SsoProvider as SsoProviderRow
from models.enums import SsoProviderKind  # a GraphQL enum: registered by schema.enums
from resolvers import sso, sso_config
from resolvers.ids import encode_id
from resolvers.sso import SignInButton
from resolvers.sso_config import ProviderSettings
from schema.auth import AuthPayload
from schema.base import Info, Node, UserError, user_errors


@strawberry.type(description="A sign-in button: what the sign-in page shows.")
class SsoProvider:
    key: str
    kind: SsoProviderKind
    display_name: str
    start_url: str = strawberry.field(
        description="/auth/sso/{key}/start?school={schoolCode}: where the button sends the browser."
    )

    @classmethod
    def of(cls, button: SignInButton) -> SsoProvider:
        return cls(
            key=button.key, kind=button.kind, display_name=button.display_name, start_url=button.start_url
        )


@strawberry.type(description="A school's SSO set-up (admins). The client secret is never returned.")
class SsoProviderConfig(Node):
    key: str
    kind: SsoProviderKind
    display_name: str
    issuer: str
    client_id: str
    client_secret_set: bool
    allowed_email_domains: list[str]
    enabled: bool
    redirect_uri: str = strawberry.field(
        description="The callback URL to register at the provider: {origin}/auth/sso/{key}/callback."
    )
    created_at: datetime
    updated_at: datetime
    last_sign_in_at: datetime | None

    @classmethod
    def from_model(cls, row: SsoProviderRow, redirect_uri: str) -> SsoProviderConfig:
        return cls(
            id=strawberry.ID(encode_id("SsoProviderConfig", row.id)),
            key=row.key,
            kind=row.kind,
            display_name=row.display_name,
            issuer=row.issuer,
            client_id=row.client_id,
            client_secret_set=row.client_secret_encrypted is not None,
            allowed_email_domains=list(row.allowed_email_domains),
            enabled=row.enabled,
            redirect_uri=redirect_uri,
            created_at=row.created_at,
            updated_at=row.updated_at,
            last_sign_in_at=row.last_sign_in_at,
        )


@strawberry.input
class ExchangeSsoCodeInput:
    code: str = strawberry.field(description="The one-time code the SSO callback put in the frontend's URL.")


@strawberry.input
class ConfigureSsoProviderInput:
    key: str = strawberry.field(description="The provider's slug in the school: 2-40 of a-z, 0-9 and -.")
    kind: SsoProviderKind
    display_name: str = strawberry.field(description="What the sign-in button says.")
    issuer: str | None = strawberry.field(default=None, description="Required for MICROSOFT and OIDC.")
    client_id: str
    client_secret: str | None = strawberry.field(
        default=None, description="Required the first time; left out, the stored one is kept."
    )
    allowed_email_domains: list[str] = strawberry.field(
        description="Only verified e-mail addresses of these domains sign in (at least one)."
    )
    enabled: bool | None = strawberry.field(
        default=None, description="Left out: on for a new provider, unchanged otherwise."
    )


@strawberry.type
class SsoProviderConfigPayload:
    provider: SsoProviderConfig | None
    user_errors: list[UserError]


@strawberry.type
class SsoQueries:
    @strawberry.field(description="The enabled sign-in providers of a school (by its code); anyone may ask.")
    async def sso_providers(self, info: Info, school_code: str) -> list[SsoProvider]:
        return [SsoProvider.of(button) for button in await sso.sso_providers(info.context, school_code)]

    @strawberry.field(description="The admin's school's SSO providers (admins only).")
    async def sso_provider_configs(self, info: Info) -> list[SsoProviderConfig]:
        rows = await sso_config.sso_provider_configs(info.context)
        return [
            SsoProviderConfig.from_model(row, sso_config.redirect_uri(info.context, row.key)) for row in rows
        ]


@strawberry.type
class SsoMutations:
    @strawberry.mutation(description="The session behind a one-time SSO code (once, for 60 seconds).")
    async def exchange_sso_code(self, info: Info, input: ExchangeSsoCodeInput) -> AuthPayload:
        return AuthPayload.from_tokens(await sso.exchange_sso_code(info.context, input.code))

    @strawberry.mutation(description="Creates or changes (by key) an SSO provider of the admin's school.")
    async def configure_sso_provider(
        self, info: Info, input: ConfigureSsoProviderInput
    ) -> SsoProviderConfigPayload:
        wanted = ProviderSettings(
            key=input.key,
            kind=input.kind,
            display_name=input.display_name,
            issuer=input.issuer,
            client_id=input.client_id,
            client_secret=input.client_secret,
            allowed_email_domains=input.allowed_email_domains,
            enabled=input.enabled,
        )
        result = await sso_config.configure_sso_provider(info.context, wanted)
        return _payload(info, result)


def _payload(info: Info, result: SsoProviderRow | list[Problem]) -> SsoProviderConfigPayload:
    if isinstance(result, list):
        return SsoProviderConfigPayload(provider=None, user_errors=user_errors(result))
    redirect = sso_config.redirect_uri(info.context, result.key)
    return SsoProviderConfigPayload(provider=SsoProviderConfig.from_model(result, redirect), user_errors=[])
