"""Monthly acquisition cohorts and the revenue of new and returning customers, from one grid.

The grid counts, for every (month of a customer's first order, month of an order) pair within
the window, the customers who ordered, their orders and the revenue net of refunds. Both
figures read it: a cohort is a row of it, and a month's new customers are its diagonal.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.analytics import common
from app.store.models import Shop


@dataclasses.dataclass
class Grid:
    months: common.Months
    currency: str | None
    cells: dict[tuple[int, int], common.Totals]

    def cell(self, cohort: int, month: int) -> common.Totals:
        return self.cells.get((cohort, month)) or common.Totals()

    @property
    def other_currency_orders(self) -> int:
        return sum(cell.orders - cell.priced_orders for cell in self.cells.values())


def read_grid(session: Session, shop: Shop, months: common.Months) -> Grid:
    """Customers, orders and net revenue per (cohort month, order month) over ``months``."""
    common.tune(session)
    orders = common.counted_orders(shop.id)
    firsts = common.first_orders(orders)
    bounds = months.bounds
    rows = (select(orders.c.who, orders.c.external_id, orders.c.total, orders.c.currency,
                   common.bucket(firsts.c.first_at, bounds).label("cohort"),
                   common.bucket(orders.c.placed, bounds).label("month"))
            .select_from(orders.outerjoin(firsts, firsts.c.who == orders.c.who))
            .where(orders.c.placed >= bounds[0], orders.c.placed < bounds[-1])
            .subquery())
    currency = common.report_currency(session, shop)
    cells = common.totals_by(session, rows, ("cohort", "month"), shop.id, currency)
    return Grid(months, currency, {(int(cohort), int(month)): cell for (cohort, month), cell in cells.items()})


# The name callers used before ``cohorts`` and ``revenue_split`` took a ``grid`` argument.
grid = read_grid


def _grid_for(session: Session, shop: Shop, months: common.Months, built: Grid | None) -> Grid:
    """``built`` when given (it must cover ``months``), else the grid read now."""
    if built is None:
        return read_grid(session, shop, months)
    if built.months.labels != months.labels or built.months.timezone != months.timezone:
        raise ValueError("the grid given covers other months than the ones asked for")
    return built


def cohorts(session: Session, shop: Shop, months: common.Months, grid: Grid | None = None) -> dict[str, Any]:
    """Each month's new customers and, month by month since, how many ordered again and what they spent.

    ``grid``: the shop's grid over ``months`` when the caller has read it already (the home
    page reads it once for this and ``revenue_split``).
    """
    found = _grid_for(session, shop, months, grid)
    count = len(months.labels)
    rows = []
    for index, label in enumerate(months.labels):
        size = found.cell(index, index).customers
        cells = [found.cell(index, month) for month in range(index, count)]
        rows.append({"cohort": label, "customers": size,
                     "retention": [common.share(cell.customers, size) for cell in cells],
                     "active": [cell.customers for cell in cells],
                     "orders": [cell.orders for cell in cells],
                     "revenue": [common.amount(cell.revenue) for cell in cells]})
    return {"months": list(range(count)), "cohorts": rows, "currency": found.currency,
            "timezone": months.timezone, "from": months.labels[0], "to": months.labels[-1],
            "orders_in_other_currencies": found.other_currency_orders}


def revenue_split(session: Session, shop: Shop, months: common.Months, grid: Grid | None = None) -> dict[str, Any]:
    """Each month's revenue from customers ordering for the first time that month, from the others, and from nobody.

    ``grid`` as for ``cohorts``.
    """
    found = _grid_for(session, shop, months, grid)
    series: dict[str, list[common.Totals]] = {"new": [], "returning": [], "unidentified": []}
    for month in range(len(months.labels)):
        new, returning, nobody = common.Totals(), common.Totals(), found.cell(common.NOBODY, month)
        for (cohort, at), cell in found.cells.items():
            if at == month and cohort != common.NOBODY:
                (new if cohort == month else returning).add(cell)
        series["new"].append(new)
        series["returning"].append(returning)
        series["unidentified"].append(nobody)

    def described(cells: list[common.Totals], with_customers: bool = True) -> dict[str, list[Any]]:
        shown: dict[str, list[Any]] = {"orders": [c.orders for c in cells],
                                       "revenue": [common.amount(c.revenue) for c in cells]}
        if with_customers:
            shown = {"customers": [c.customers for c in cells], **shown}
        return shown

    totals = [sum((c.revenue for c in month), common.ZERO)
              for month in zip(series["new"], series["returning"], series["unidentified"], strict=True)]
    return {"months": months.labels, "new": described(series["new"]),
            "returning": described(series["returning"]),
            "unidentified": described(series["unidentified"], with_customers=False),
            "total": {"revenue": [common.amount(value) for value in totals]},
            "currency": found.currency, "timezone": months.timezone,
            "orders_in_other_currencies": found.other_currency_orders}
