"""The iPaaS.com transaction mapping filter (99minds "Invoice From iPaaS" seed), as a pure function:

    (Type == "Order" || Type == "Validated Return") && Status == "Complete"
    && !TransactionNumber.EndsWith("-D") && !TransactionNumber.EndsWith("-GC")

The seed says "adjust filter as needed": the accepted types, the required status and the excluded
suffixes are subscription settings (settings.TransactionFilter), defaulting to the seed's values. Used by every
destination that takes completed transactions (99minds order workflow, Mintsoft sales orders).
"""

from __future__ import annotations

from ..core.models.ipaas import IpaasTransaction
from ..core.settings import TransactionFilter


def rejection(txn: IpaasTransaction, rule: TransactionFilter) -> str | None:
    """None when the transaction passes the filter, else the reason it is filtered out (a deliberate skip)."""
    subject = f"transaction {txn.transaction_number or txn.id}"
    if txn.type not in rule.types:
        return f"{subject}: type '{txn.type}' is not one of {', '.join(rule.types)} (unsupported transaction type)"
    if txn.status != rule.status:
        return f"{subject}: status '{txn.status}' is not '{rule.status}'"
    number = txn.transaction_number or ""
    for suffix in rule.excluded_suffixes:
        if number.endswith(suffix):
            return f"{subject}: transaction number ends with '{suffix}' (excluded by the filter)"
    return None
