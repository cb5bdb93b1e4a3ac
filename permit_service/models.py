"""Every ORM model, imported once so that Alembic and the app see the whole schema."""

from permit_service.api.models import IdempotencyRecord
from permit_service.audit.models import ChainHead, Checkpoint, CheckpointHead, Event
from permit_service.auth.models import IntegrationClient, PasswordAttempts, RevokedToken
from permit_service.checklists.models import ChecklistConfirmation, EnterpriseChecklist
from permit_service.countersigning.models import EnterpriseCountersigning
from permit_service.db import Base
from permit_service.directory.models import Certificate, ChemicalPark, Enterprise, Person, PlantArea, Region
from permit_service.feed.models import FeedCounter, FeedPosition
from permit_service.freezes.models import CalendarOverride, Freeze
from permit_service.integrations.models import (
    Alarm,
    CardLocation,
    CardSighting,
    Detector,
    Feed,
    FeedArea,
    GasReadingRecord,
    IngestBatch,
    PositionSnapshot,
    WebhookDelivery,
    WebhookSubscription,
)
from permit_service.jobs.models import HighRiskJob, HighRiskJobPermit
from permit_service.permits.models import (
    ContextGeneration,
    GasTest,
    Permit,
    PermitCrewMember,
    PermitDocument,
    PermitLink,
    PermitNumberCounter,
    Signature,
)
from permit_service.presence.models import HeadcountRaise, PresenceEntry
from permit_service.regulators.models import EnterpriseRiskGrade, RegulatorNotification
from permit_service.scheduling.models import JobMark, SchedulerRun

__all__ = [
    "Alarm",
    "Base",
    "CalendarOverride",
    "CardLocation",
    "CardSighting",
    "Certificate",
    "ChainHead",
    "ChecklistConfirmation",
    "Checkpoint",
    "CheckpointHead",
    "ChemicalPark",
    "ContextGeneration",
    "Detector",
    "Enterprise",
    "EnterpriseChecklist",
    "EnterpriseCountersigning",
    "EnterpriseRiskGrade",
    "Event",
    "Feed",
    "FeedArea",
    "FeedCounter",
    "FeedPosition",
    "Freeze",
    "GasReadingRecord",
    "GasTest",
    "HeadcountRaise",
    "HighRiskJob",
    "HighRiskJobPermit",
    "IdempotencyRecord",
    "IngestBatch",
    "IntegrationClient",
    "JobMark",
    "PasswordAttempts",
    "Permit",
    "PermitCrewMember",
    "PermitDocument",
    "PermitLink",
    "PermitNumberCounter",
    "Person",
    "PlantArea",
    "PositionSnapshot",
    "PresenceEntry",
    "Region",
    "RegulatorNotification",
    "RevokedToken",
    "SchedulerRun",
    "Signature",
    "WebhookDelivery",
    "WebhookSubscription",
]
