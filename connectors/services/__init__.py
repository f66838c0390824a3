"""Every write of the connectors app, one module per use case (re-exported here).

Callers above us (requests_app, retention, consent) use `case_systems_plan`, `case_systems_status`
(selectors), `case_systems_settled`, `system_run_retry`, `system_run_waive`, `opt_out_propagate` and
`external_retention_sweep`; they never reach into the models.
"""

from .common import RUN_ERRORS
from .connections import connection_save, connection_test
from .datasets import CheckReport, dataset_check, dataset_export, dataset_import
from .demo import demo_crm_install
from .erasure import erase_passes, journal, journal_replay, steps_from_journal, system_access, system_erase
from .opt_out import opt_out_propagate, unsubscribe_systems
from .runs import (
    case_systems_plan,
    case_systems_settled,
    connected_systems,
    system_run_execute,
    system_run_retry,
    system_run_waive,
)
from .sweeps import ExternalSweepResult, external_retention_erase, external_retention_sweep

__all__ = [
    "RUN_ERRORS", "CheckReport", "ExternalSweepResult", "external_retention_erase", "case_systems_plan", "case_systems_settled", "connected_systems",
    "connection_save", "connection_test", "dataset_check", "dataset_export", "dataset_import",
    "demo_crm_install", "erase_passes", "external_retention_sweep", "journal", "journal_replay",
    "opt_out_propagate", "steps_from_journal", "system_access", "system_erase", "system_run_execute",
    "system_run_retry", "system_run_waive", "unsubscribe_systems",
]  # fmt: skip
