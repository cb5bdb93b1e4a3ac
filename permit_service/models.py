"""Every ORM model, imported once so that Alembic and the app see the whole schema."""

from permit_service.api.models import IdempotencyRecord
from permit_service.audit.models import ChainHead, Event
from permit_service.auth.models import IntegrationClient, RevokedToken
from permit_service.db import Base
from permit_service.directory.models import Certificate, ChemicalPark, Enterprise, Person, PlantArea, Region
from permit_service.jobs.models import HighRiskJob, HighRiskJobPermit
from permit_service.permits.models import (
    GasTest,
    Permit,
    PermitCrewMember,
    PermitLink,
    PermitNumberCounter,
    Signature,
)
from permit_service.regulators.models import EnterpriseRiskGrade, RegulatorNotification

__all__ = [
    "Base",
    "Certificate",
    "ChainHead",
    "ChemicalPark",
    "Enterprise",
    "EnterpriseRiskGrade",
    "Event",
    "GasTest",
    "HighRiskJob",
    "HighRiskJobPermit",
    "IdempotencyRecord",
    "IntegrationClient",
    "Permit",
    "PermitCrewMember",
    "PermitLink",
    "PermitNumberCounter",
    "Person",
    "PlantArea",
    "Region",
    "RegulatorNotification",
    "RevokedToken",
    "Signature",
]
