"""Importing orders exported from a store: CSV (Shopify-style) or JSON.

Every order is checked and written on its own (a savepoint each), so a bad row
is reported with its row number and never stops the good ones. Importing the
same file twice updates, never duplicates: orders are matched by their
normalised number, customers by the store's customer id (or email).

CSV: one row per line item, the order's fields on its first row, as Shopify's
orders export has them. The columns are documented in README.md ("Importing
orders"). JSON: ``{"orders": [...]}`` with the nested shape of ``OrderRecord``
(customers, items, shipments and their checkpoints), which bot/orders/demo.py
also produces.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.database import Database
from bot.db.models import Checkpoint, Customer, Order, OrderItem, Shipment, StaffMember
from bot.languages import SUPPORTED_LANGUAGES
from bot.orders.numbers import normalise_order_number
from bot.orders.queries import find_order, normalise_postcode
from bot.orders.statuses import ORDER_STATUSES, SHIPMENT_STATUSES

#: Columns a CSV file must have.
REQUIRED_COLUMNS = ("Name", "Email", "Currency", "Total", "Created at")
#: Largest import file accepted.
MAX_IMPORT_BYTES = 200 * 1024 * 1024


class RowError(ValueError):
    """What is wrong with one order, in words the seller can fix."""


class ImportFileError(ValueError):
    """The file as a whole cannot be read (format, header)."""


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    errors: list[tuple[str, str, str]] = field(default_factory=list)  # (where, order number, message)

    @property
    def imported(self) -> int:
        return self.created + self.updated


@dataclass
class Record:
    """One order as read from a file, before checking; ``where`` names its row(s)."""

    where: str
    data: dict[str, Any]


# --- reading ----------------------------------------------------------------
def read_file(path: Path) -> Iterator[Record]:
    """The orders of a .csv or .json file."""
    raw = path.read_bytes()
    if len(raw) > MAX_IMPORT_BYTES:
        raise ImportFileError(f"{path.name} is {len(raw):,} bytes; the limit is {MAX_IMPORT_BYTES:,}")
    if path.suffix.lower() == ".json":
        return read_json(raw)
    if path.suffix.lower() == ".csv":
        return read_csv(raw)
    raise ImportFileError(f"{path.name}: use a .csv or .json file")


def read_json(raw: bytes) -> Iterator[Record]:
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ImportFileError(f"not valid UTF-8 JSON: {error}") from error
    orders = data.get("orders") if isinstance(data, dict) else data
    if not isinstance(orders, list):
        raise ImportFileError('expected {"orders": [...]} or a list of orders')
    for position, order in enumerate(orders, start=1):
        yield Record(f"order {position}", order if isinstance(order, dict) else {"_invalid": order})


def read_csv(raw: bytes) -> Iterator[Record]:
    """Rows grouped into orders by ``Name``; bytes that are not UTF-8 mark their row."""
    text = raw.decode("utf-8-sig", errors="surrogateescape")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        raise ImportFileError(
            f"the file lacks the column(s) {', '.join(missing)} (see README: Importing orders)"
        )
    reader.fieldnames = header
    current: Record | None = None
    for row_number, row in enumerate(reader, start=2):
        values = {k: (v or "").strip() for k, v in row.items() if k}
        name = values.get("Name", "")
        if current is not None and name and name == current.data.get("Name"):
            current.data["_rows"].append((row_number, values))
            current.where = f"{current.where.split('-')[0]}-{row_number}"
            continue
        if current is not None:
            yield current
        current = Record(f"row {row_number}", {**values, "_rows": [(row_number, values)]})
    if current is not None:
        yield current


# --- checking ---------------------------------------------------------------
def _text(value: Any, name: str, required: bool = False, limit: int = 300) -> str:
    text = "" if value is None else str(value).strip()
    if any("\udc80" <= c <= "\udcff" for c in text):
        raise RowError(f"{name} is not UTF-8 text (save the file as UTF-8)")
    if required and not text:
        raise RowError(f"{name} is missing")
    return text[:limit]


def _amount(value: Any, name: str, required: bool = False) -> Decimal:
    text = _text(value, name, required)
    if not text:
        return Decimal("0")
    try:
        amount = (
            Decimal(text.replace(",", ""))
            if text.count(",") and "." in text
            else Decimal(text.replace(",", "."))
        )
    except InvalidOperation as error:
        raise RowError(f"{name} {text!r} is not an amount") from error
    if amount < 0:
        raise RowError(f"{name} is negative ({text})")
    if not amount.is_finite() or amount > Decimal("9999999999"):
        raise RowError(f"{name} {text!r} is out of range")
    return amount.quantize(Decimal("0.01"))


def _moment(value: Any, name: str, required: bool = False) -> datetime | None:
    text = _text(value, name, required)
    if not text:
        return None
    cleaned = text.replace("Z", "+00:00")
    cleaned = re.sub(r"\s*([+-]\d{2})(\d{2})$", r"\1:\2", cleaned)  # Shopify's "+0100"
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError as error:
        raise RowError(
            f"{name} {text!r} is not a date (use 2024-03-05 14:22:10 +0100 or ISO 8601)"
        ) from error
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _day(value: Any, name: str) -> date | None:
    moment = _moment(value, name)
    return moment.date() if moment else None


def _choice(value: Any, name: str, allowed: Iterable[str], default: str) -> str:
    text = _text(value, name).lower().replace(" ", "_")
    if not text:
        return default
    if text not in allowed:
        raise RowError(f"{name} {text!r} is not one of {', '.join(sorted(allowed))}")
    return text


def from_csv(data: dict[str, Any]) -> dict[str, Any]:
    """A CSV order (Shopify-style columns) in the JSON shape."""
    rows = data["_rows"]
    items = []
    for row_number, row in rows:
        if row.get("Lineitem name"):
            quantity = _text(row.get("Lineitem quantity") or "1", f"row {row_number}: Lineitem quantity")
            if not quantity.isdigit() or int(quantity) <= 0:
                raise RowError(
                    f"row {row_number}: Lineitem quantity {quantity!r} is not a positive whole number"
                )
            items.append(
                {
                    "sku": row.get("Lineitem sku", ""),
                    "name": row["Lineitem name"],
                    "quantity": int(quantity),
                    "price": row.get("Lineitem price") or "0",
                }
            )
    financial = data.get("Financial Status", "").lower()
    fulfillment = data.get("Fulfillment Status", "").lower()
    status = data.get("Status", "")
    if not status:
        if data.get("Cancelled at"):
            status = "cancelled"
        elif financial in ("refunded", "voided"):
            status = "refunded"
        elif financial == "pending":
            status = "pending"
        elif fulfillment == "fulfilled":
            status = data.get("Shipment Status") or "shipped"
        else:
            status = "processing"
    shipments = []
    if data.get("Tracking Number"):
        shipments.append(
            {
                "carrier": data.get("Tracking Company") or "",
                "tracking_number": data["Tracking Number"],
                "status": data.get("Shipment Status") or "in_transit",
                "estimated_delivery": data.get("Estimated Delivery") or None,
                "shipped_at": data.get("Shipped at") or None,
            }
        )
    return {
        "number": data.get("Name"),
        "email": data.get("Email"),
        "currency": data.get("Currency"),
        "subtotal": data.get("Subtotal"),
        "shipping": data.get("Shipping"),
        "taxes": data.get("Taxes"),
        "total": data.get("Total"),
        "status": status,
        "placed_at": data.get("Created at"),
        "shipping_postcode": data.get("Shipping Zip", ""),
        "shipping_country": data.get("Shipping Country", ""),
        "customer": {
            "id": data.get("Customer ID") or "",
            "name": data.get("Shipping Name") or data.get("Billing Name") or "",
            "country": data.get("Shipping Country", ""),
            "language": data.get("Customer Language", ""),
            "tier": data.get("Customer Tier", ""),
            "manager": data.get("Account Manager", ""),
        },
        "items": items,
        "shipments": shipments,
    }


# --- writing ----------------------------------------------------------------
def upsert_order(session: Session, data: dict[str, Any]) -> bool:
    """Check one order and write it; True if it was new. Raises RowError."""
    if "_invalid" in data:
        raise RowError("each order must be a JSON object")
    number = normalise_order_number(_text(data.get("number"), "order number", required=True, limit=40))
    if number is None:
        raise RowError(
            f"order number {data.get('number')!r} is not 4-8 digits with an optional letter prefix"
        )
    email = _text(data.get("email"), "Email", required=True, limit=254).lower()
    if "@" not in email:
        raise RowError(f"Email {email!r} is not an email address")
    currency = _text(data.get("currency"), "Currency", required=True).upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise RowError(f"Currency {currency!r} is not a 3-letter code such as EUR")
    placed_at = _moment(data.get("placed_at"), "Created at", required=True)
    assert placed_at is not None
    total = _amount(data.get("total"), "Total", required=True)
    status = _choice(data.get("status"), "Status", ORDER_STATUSES, "processing")
    customer = _upsert_customer(session, data.get("customer") or {}, email)

    order = find_order(session, number)
    created = order is None
    if order is None:
        order = Order(number=number)
        session.add(order)
    order.customer_id = customer.id if customer else None
    order.email = email
    order.shipping_postcode = normalise_postcode(
        _text(data.get("shipping_postcode"), "Shipping Zip", limit=16)
    )
    order.shipping_country = _text(data.get("shipping_country"), "Shipping Country", limit=2).upper()
    order.currency = currency
    order.subtotal = _amount(data.get("subtotal"), "Subtotal") or total
    order.shipping_total = _amount(data.get("shipping"), "Shipping")
    order.tax_total = _amount(data.get("taxes"), "Taxes")
    order.total = total
    order.status = status
    order.placed_at = placed_at
    order.items = [_item(item) for item in _list(data.get("items"), "items")]
    order.shipments = [_shipment(shipment) for shipment in _list(data.get("shipments"), "shipments")]
    session.flush()
    return created


def _list(value: Any, name: str) -> list[dict[str, Any]]:
    if value in (None, ""):
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise RowError(f"{name} must be a list of objects")
    return value


def _item(data: dict[str, Any]) -> OrderItem:
    quantity = data.get("quantity", 1)
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
        raise RowError(f"item quantity {quantity!r} is not a positive whole number")
    return OrderItem(
        sku=_text(data.get("sku"), "Lineitem sku", limit=64),
        name=_text(data.get("name"), "Lineitem name", required=True),
        quantity=quantity,
        unit_price=_amount(data.get("price"), "Lineitem price"),
    )


def _shipment(data: dict[str, Any]) -> Shipment:
    shipment = Shipment(
        carrier=_text(data.get("carrier"), "Tracking Company", limit=64),
        tracking_number=_text(data.get("tracking_number"), "Tracking Number", required=True, limit=64),
        status=_choice(data.get("status"), "Shipment Status", SHIPMENT_STATUSES, "in_transit"),
        estimated_delivery=_day(data.get("estimated_delivery"), "Estimated Delivery"),
        shipped_at=_moment(data.get("shipped_at"), "Shipped at"),
    )
    for point in _list(data.get("checkpoints"), "checkpoints"):
        happened_at = _moment(point.get("time"), "checkpoint time", required=True)
        assert happened_at is not None
        shipment.checkpoints.append(
            Checkpoint(
                happened_at=happened_at,
                place=_text(point.get("place"), "checkpoint place", limit=200),
                description=_text(point.get("description"), "checkpoint description", required=True),
                status=_choice(point.get("status"), "checkpoint status", SHIPMENT_STATUSES, "in_transit"),
            )
        )
    return shipment


def _upsert_customer(session: Session, data: dict[str, Any], email: str) -> Customer | None:
    if not isinstance(data, dict):
        raise RowError("customer must be an object")
    external_id = _text(data.get("id"), "Customer ID", limit=64) or email
    customer = session.scalars(select(Customer).where(Customer.external_id == external_id)).one_or_none()
    if customer is None:
        customer = Customer(external_id=external_id, email=email)
        session.add(customer)
    customer.email = email
    name = _text(data.get("name"), "customer name", limit=200)
    if name:
        customer.name = name
    country = _text(data.get("country"), "customer country", limit=2).upper()
    if country:
        customer.country = country
    language = _text(data.get("language"), "Customer Language").lower()[:2]
    if language:
        if language not in SUPPORTED_LANGUAGES:
            raise RowError(f"Customer Language {language!r} is not one of {' '.join(SUPPORTED_LANGUAGES)}")
        customer.preferred_language = language
    tier = _text(data.get("tier"), "Customer Tier").lower()
    if tier:
        if tier not in ("standard", "vip"):
            raise RowError(f"Customer Tier {tier!r} must be standard or vip")
        customer.tier = tier
    manager = _text(data.get("manager"), "Account Manager", limit=254).lower()
    if manager:
        staff = session.scalars(select(StaffMember).where(StaffMember.email == manager)).one_or_none()
        if staff is None:
            raise RowError(f"Account Manager {manager!r} is not a staff member (add them first)")
        customer.manager_id = staff.id
    session.flush()
    return customer


def import_records(
    database: Database,
    records: Iterable[Record],
    csv_format: bool,
    progress: Callable[[Iterable[Record]], Iterable[Record]] = lambda r: r,
) -> ImportReport:
    """Write every good order; collect an error for each bad one."""
    report = ImportReport()
    with database.session() as session:
        for record in progress(records):
            number = str(record.data.get("Name" if csv_format else "number") or "?")
            try:
                with session.begin_nested():
                    data = from_csv(record.data) if csv_format else record.data
                    created = upsert_order(session, data)
            except RowError as error:
                report.errors.append((record.where, number, str(error)))
                continue
            if created:
                report.created += 1
            else:
                report.updated += 1
    return report


def import_file(database: Database, path: Path, show_progress: bool = False) -> ImportReport:
    records = list(read_file(path))

    def progress(items: Iterable[Record]) -> Iterable[Record]:
        if not show_progress:
            return items
        from tqdm import tqdm  # type: ignore[import-untyped]

        bar: Iterable[Record] = tqdm(items, total=len(records), unit="order", desc=f"Importing {path.name}")
        return bar

    return import_records(database, records, path.suffix.lower() == ".csv", progress)
