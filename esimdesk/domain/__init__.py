"""The app's own vocabulary: typed dataclasses and errors. Imports nothing of ours."""

from esimdesk.domain.actions import SMS_MAX_CHARS, Action, ActionEntry, ActionEvent  # noqa: F401
from esimdesk.domain.config import VendorConfig  # noqa: F401
from esimdesk.domain.errors import *  # noqa: F401,F403
from esimdesk.domain.iccid import is_valid_iccid, luhn_ok, validate_iccid  # noqa: F401
from esimdesk.domain.journal import JournalEntry, JournalEvent  # noqa: F401
from esimdesk.domain.listing import PLAN_KINDS, ListingQuery  # noqa: F401
from esimdesk.domain.models import *  # noqa: F401,F403
from esimdesk.domain.plans import PlanDetails, coverage_text, data_text, plan_total_mb, price_per_gb  # noqa: F401
from esimdesk.domain.reference import REFERENCE_MAX_LENGTH, validate_reference  # noqa: F401
from esimdesk.domain.states import (  # noqa: F401
    ACTION_UNFINISHED,
    AWAITING_AGENT,
    MAY_BE_FILED,
    SETTLED,
    UNDECIDED,
    UNFINISHED,
    action_is_open,
    awaits_agent,
    is_undecided,
    is_unfinished,
    topup_refusal,
)
from esimdesk.domain.units import data_amount  # noqa: F401
from esimdesk.domain.words import VENDOR_TITLES, count_of, plural, vendor_title  # noqa: F401
