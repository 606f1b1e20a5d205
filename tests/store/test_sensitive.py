"""Declared sensitive periods: recorded with who and when, listed until lifted, never deleted."""

from __future__ import annotations

from datetime import date

from chatops.store.sql import SqlStore


def test_declare_list_and_lift(store: SqlStore) -> None:
    first = store.declare_sensitive(
        region_id="ir",
        start_date=date(2026, 6, 12),
        end_date=date(2026, 6, 30),
        reason="Election",
        actor="UADMIN",
        at=100,
    )
    second = store.declare_sensitive(
        region_id="np",
        start_date=date(2026, 1, 1),
        end_date=date(2026, 1, 2),
        reason="Strike",
        actor="UADMIN",
        at=101,
    )
    assert first.start_date == date(2026, 6, 12) and first.declared_by == "UADMIN" and first.lifted_at is None
    assert [p.id for p in store.sensitive_periods()] == [second.id, first.id]  # by start date
    assert [p.id for p in store.sensitive_periods(ending_on_or_after=date(2026, 3, 1))] == [first.id]

    lifted = store.lift_sensitive(first.id, actor="UOTHER", at=200)
    assert lifted is not None and lifted.lifted_by == "UOTHER" and lifted.lifted_at == 200
    assert store.lift_sensitive(first.id, actor="UOTHER", at=201) is None  # already lifted
    assert store.lift_sensitive(9999, actor="UOTHER", at=201) is None
    assert [p.id for p in store.sensitive_periods()] == [second.id]
