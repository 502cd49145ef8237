"""The runtime backstop: cloud budgets built from the same file that gates pull requests.

`policies/budgets/<env>.json` (finance's file, passed to the policy pack in CI) gives the
monthly limit and warning ratio. AWS gets an AWS Budgets cost budget on the environment's
cost tag with two alerts (forecast over the warning ratio, actual over 100%) to an
SNS topic; GCP gets a billing budget with the same thresholds when the file names
the billing account (`stack-monthly-budget.gcpBillingAccount`). What blocks a pull request
also alerts on real spend.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_gcp as gcp

from components.errors import ConfigError

BUDGETS_DIR = Path(__file__).resolve().parents[1] / "policies" / "budgets"
_POLICY = "stack-monthly-budget"


@dataclass(frozen=True)
class BudgetLimit:
    """The monthly limit of one environment, as finance set it for the policy pack."""

    monthly_limit_usd: float
    warn_ratio: float = 0.8
    """Share of the limit at which the forecast alert fires (the pack's advisory warning)."""
    gcp_billing_account: str = ""
    source: str = ""


def load_budget(environment: str, folder: Path = BUDGETS_DIR) -> BudgetLimit | None:
    """The environment's budget, or None when it has no budget file. Raises ConfigError on a bad file."""
    path = folder / f"{environment}.json"
    if not path.is_file():
        return None
    where = f"policies/budgets/{environment}.json"
    try:
        doc = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError([f"{where}: not valid JSON ({exc.msg} at line {exc.lineno})"]) from None
    entry = doc.get(_POLICY) if isinstance(doc, dict) else None
    if not isinstance(entry, dict):
        return None
    limit, ratio = entry.get("monthlyLimitUsd"), entry.get("warnRatio", 0.8)
    problems = []
    if isinstance(limit, bool) or not isinstance(limit, (int, float)) or limit <= 0:
        problems.append(f"{where}: {_POLICY}.monthlyLimitUsd: {limit!r} is not a positive number of USD")
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 < ratio <= 1:
        problems.append(f"{where}: {_POLICY}.warnRatio: {ratio!r} is not allowed; expected a number in (0, 1]")
    if problems:
        raise ConfigError(problems)
    return BudgetLimit(float(limit), float(ratio), str(entry.get("gcpBillingAccount", "")), where)  # type: ignore[arg-type]


@dataclass(frozen=True)
class CostBudgetArgs:
    limit: BudgetLimit
    environment: str
    """Value of the `environment` cost tag/label the budget filters on."""
    cloud: str
    """`aws` or `gcp`."""
    gcp_project_number: pulumi.Input[str] | None = None
    """GCP only: the project the billing budget watches."""


class CostBudget(pulumi.ComponentResource):
    """A monthly cost budget with a forecast warning and an actual-overrun alert."""

    alert_topic_arn: pulumi.Output[str] | None
    """AWS: the SNS topic budget alerts go to (subscribe finance and on-call to it)."""

    def __init__(self, name: str, args: CostBudgetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ai-infra:index:CostBudget", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        limit = args.limit
        warn_pct = round(limit.warn_ratio * 100, 2)
        self.alert_topic_arn = None
        if args.cloud == "aws":
            # Encrypted with a key of our own: AWS Budgets cannot publish to a topic under the
            # AWS-managed SNS key, so the key policy lets the Budgets service use this one.
            account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
            key = aws.kms.Key(f"{name}-alerts", description="encrypts the budget alert topic",
                              enable_key_rotation=True, deletion_window_in_days=30,
                              policy=account.apply(_alert_key_policy), opts=child)
            topic = aws.sns.Topic(f"{name}-alerts", kms_master_key_id=key.arn, opts=child)
            aws.sns.TopicPolicy(f"{name}-alerts-policy", arn=topic.arn, policy=pulumi.Output.all(topic.arn, account)
                                .apply(lambda v: json.dumps({
                "Version": "2012-10-17",
                "Statement": [{"Sid": "Budgets", "Effect": "Allow",
                               "Principal": {"Service": "budgets.amazonaws.com"},
                               "Action": "SNS:Publish", "Resource": v[0],
                               # Only budgets of this account (confused-deputy guard).
                               "Condition": {"StringEquals": {"aws:SourceAccount": v[1]}}}],
            })), opts=child)
            aws.budgets.Budget(
                f"{name}-monthly",
                budget_type="COST",
                limit_amount=f"{limit.monthly_limit_usd:.2f}",
                limit_unit="USD",
                time_unit="MONTHLY",
                # The same tag every resource carries (components/tagging.py); it must be
                # activated as a cost allocation tag in the billing console.
                cost_filters=[{"name": "TagKeyValue", "values": [f"user:environment${args.environment}"]}],
                notifications=[
                    {"comparison_operator": "GREATER_THAN", "notification_type": "FORECASTED",
                     "threshold": warn_pct, "threshold_type": "PERCENTAGE", "subscriber_sns_topic_arns": [topic.arn]},
                    {"comparison_operator": "GREATER_THAN", "notification_type": "ACTUAL",
                     "threshold": 100, "threshold_type": "PERCENTAGE", "subscriber_sns_topic_arns": [topic.arn]},
                ],
                opts=child,
            )
            self.alert_topic_arn = topic.arn
        elif args.cloud == "gcp" and limit.gcp_billing_account:
            gcp.billing.Budget(
                f"{name}-monthly",
                billing_account=limit.gcp_billing_account,
                display_name=f"{name} monthly",
                amount={"specified_amount": {"currency_code": "USD", "units": str(int(limit.monthly_limit_usd))}},
                budget_filter={
                    "projects": [pulumi.Output.concat("projects/", args.gcp_project_number or "")],
                    "labels": {"environment": args.environment},
                    "calendar_period": "MONTH",
                },
                threshold_rules=[
                    {"threshold_percent": limit.warn_ratio, "spend_basis": "FORECASTED_SPEND"},
                    {"threshold_percent": 1.0, "spend_basis": "CURRENT_SPEND"},
                ],
                opts=child,
            )
        self.register_outputs({"alertTopicArn": self.alert_topic_arn})


def _alert_key_policy(account_id: str) -> str:
    """The account administers the key; AWS Budgets may encrypt messages for the topic with it."""
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "AccountAdministers", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
             "Action": "kms:*", "Resource": "*"},
            {"Sid": "BudgetsPublishes", "Effect": "Allow", "Principal": {"Service": "budgets.amazonaws.com"},
             "Action": ["kms:GenerateDataKey*", "kms:Decrypt"], "Resource": "*",
             "Condition": {"StringEquals": {"aws:SourceAccount": account_id}}},
        ],
    })
