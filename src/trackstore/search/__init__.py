"""MLflow's search grammar (filters, ``order_by``), in-memory evaluation, and page tokens.

* :mod:`.grammar` parses strings into a backend-neutral AST (:class:`RunFilter`,
  :class:`ExperimentFilter`, :class:`ModelFilter` for the model registry, :class:`OrderBy`), with
  MLflow's error messages;
* :mod:`.evaluate` filters, orders and pages in-memory records (the FileStore's search);
* :mod:`.paging` encodes and decodes offset page tokens and checks ``max_results``.
"""

from __future__ import annotations

from .evaluate import (
    EntityRunRecord,
    ExperimentRecord,
    RunRecord,
    compile_experiment_filter,
    compile_run_filter,
    like_pattern,
    search_experiments,
    search_runs,
    sort_experiments,
    sort_runs,
)
from .grammar import (
    DEFAULT_MODEL_VERSION_ORDER_BY,
    Comparison,
    ExperimentFilter,
    KeyRefs,
    ModelFilter,
    OrderBy,
    RunFilter,
    parse_experiment_filter,
    parse_experiment_order_by,
    parse_model_version_filter,
    parse_model_version_order_by,
    parse_registered_model_filter,
    parse_registered_model_order_by,
    parse_run_filter,
    parse_run_order_by,
    referenced_keys,
)
from .paging import (
    SEARCH_MAX_RESULTS_DEFAULT,
    SEARCH_MAX_RESULTS_THRESHOLD,
    create_page_token,
    paginate,
    parse_page_token,
    validate_experiment_max_results,
    validate_run_max_results,
)

__all__ = [
    "DEFAULT_MODEL_VERSION_ORDER_BY",
    "SEARCH_MAX_RESULTS_DEFAULT",
    "SEARCH_MAX_RESULTS_THRESHOLD",
    "Comparison",
    "EntityRunRecord",
    "ExperimentFilter",
    "ExperimentRecord",
    "KeyRefs",
    "ModelFilter",
    "OrderBy",
    "RunFilter",
    "RunRecord",
    "compile_experiment_filter",
    "compile_run_filter",
    "create_page_token",
    "like_pattern",
    "paginate",
    "parse_experiment_filter",
    "parse_experiment_order_by",
    "parse_model_version_filter",
    "parse_model_version_order_by",
    "parse_page_token",
    "parse_registered_model_filter",
    "parse_registered_model_order_by",
    "parse_run_filter",
    "parse_run_order_by",
    "referenced_keys",
    "search_experiments",
    "search_runs",
    "sort_experiments",
    "sort_runs",
    "validate_experiment_max_results",
    "validate_run_max_results",
]
