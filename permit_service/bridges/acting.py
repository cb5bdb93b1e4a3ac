"""Who a bridge acts as: an integration client, authenticated once at start and checked still active per message."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from permit_service.auth.models import IntegrationClient
from permit_service.auth.principal import Principal
from permit_service.auth.service import authenticate_client
from permit_service.auth.tokens import principal_of_client
from permit_service.errors import Unauthorized


@dataclass(frozen=True)
class Acting:
    """The integration client a bridge acts for: its enterprise is the bridge's whole scope."""

    id: uuid.UUID
    client_id: str

    def principal(self, session: Session) -> Principal:
        """The client as a caller, refused (401) once it has been deactivated."""
        client = session.get(IntegrationClient, self.id)
        if client is None or not client.active:
            raise Unauthorized("接入账户已停用", "The integration client has been deactivated")
        return principal_of_client(client)


def sign_in(session: Session, *, client_id: str, secret: str) -> Acting:
    """Check the client's credentials (from the environment) as the HTTP token endpoint does."""
    client = authenticate_client(session, client_id=client_id, client_secret=secret)
    return Acting(client.id, client.client_id)
