"""The SQL transforms: raw -> staging -> intermediate -> marts -> analytics, incremental by replacement scope.

Modules: ``models`` (discovery, headers, kinds, run order), ``relations`` (the relations over raw the models
read), ``runner`` (the incremental runner), ``dimension`` (the campaign dimension merge), ``checks`` (data
quality), ``seeds`` (the metric dictionary), ``refresh`` (refresh candidates), ``dictionary`` (docs/metrics.md).
The SQL is in ``transforms/sql`` (docs/architecture.md, "Transforms").
"""

from __future__ import annotations

from transforms.checks import CheckResult, run_checks
from transforms.models import TransformError
from transforms.refresh import dormant_campaigns, refresh_candidates, settled_campaigns
from transforms.runner import TransformResult, run_transforms
from transforms.seeds import read_seeds

__all__ = ["CheckResult", "TransformError", "TransformResult", "dormant_campaigns", "read_seeds", "refresh_candidates",
           "run_checks", "run_transforms", "settled_campaigns"]
