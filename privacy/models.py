"""The privacy app's models live with their layer (vault, audit, access, staff, consent,
desks); Django finds them here, under the one app label ``privacy``."""

from privacy.access.models import AccessGrant, GrantKind, HoursOverride
from privacy.audit.models import AuditLogEntry, AuditVerification
from privacy.consent.models import (
    NoticeMethod,
    NoticeRecord,
    ProvidedItem,
    ProvisionBasis,
    PurposeNotice,
    PurposeSuspension,
    ThirdPartyProvision,
)
from privacy.desks.models import (
    ApprovalStatus,
    DataRequest,
    DisclosureRelease,
    ExportRequest,
    ExportScope,
    IdentityMethod,
    RequestKind,
    RequestStatus,
    RetentionBatch,
)
from privacy.ops.models import ScheduledJob
from privacy.staff.models import (
    HandlingRules,
    RulesAcknowledgement,
    SecondPersonProposal,
    SetupLink,
    StaffProfile,
    Terminal,
)
from privacy.staff.records.models import (
    AccessReview,
    CheckResult,
    Contractor,
    ContractorStaff,
    SupervisionCheck,
    TrainingSession,
)
from privacy.vault.models import DataKey, KeyCanary

__all__ = [
    "AccessGrant",
    "AccessReview",
    "ApprovalStatus",
    "AuditLogEntry",
    "AuditVerification",
    "CheckResult",
    "Contractor",
    "ContractorStaff",
    "DataKey",
    "DataRequest",
    "DisclosureRelease",
    "ExportRequest",
    "ExportScope",
    "GrantKind",
    "HandlingRules",
    "HoursOverride",
    "IdentityMethod",
    "KeyCanary",
    "NoticeMethod",
    "NoticeRecord",
    "ProvidedItem",
    "ProvisionBasis",
    "PurposeNotice",
    "PurposeSuspension",
    "RequestKind",
    "RequestStatus",
    "RetentionBatch",
    "RulesAcknowledgement",
    "ScheduledJob",
    "SecondPersonProposal",
    "SetupLink",
    "StaffProfile",
    "Terminal",
    "SupervisionCheck",
    "ThirdPartyProvision",
    "TrainingSession",
]
