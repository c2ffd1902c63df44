"""Importing orders: good, bad and duplicate rows, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.cli import main
from bot.db.database import Database, upgrade
from bot.db.models import Customer, Order, StaffMember
from bot.orders import demo
from bot.orders.importer import ImportFileError, import_file
from bot.orders.queries import find_order

HEADER = (
    "Name,Email,Financial Status,Fulfillment Status,Currency,Subtotal,Shipping,Taxes,Total,Created at,"
    "Lineitem quantity,Lineitem name,Lineitem price,Lineitem sku,Shipping Name,Shipping Zip,"
    "Shipping Country,Customer ID,Customer Tier,Customer Language,Tracking Company,Tracking Number,"
    "Shipment Status,Estimated Delivery\n"
)
GOOD = (
    "#1001,ana@example.com,paid,fulfilled,EUR,98.00,0,0,98.00,2026-11-01 10:00:00 +0100,"
    "1,Denim jacket,89.00,JK-1,Ana García,28013,ES,c-1,standard,es,DHL,JD0001,in_transit,2026-11-12\n"
    "#1001,,,,,,,,,,1,Socks,9.00,SK-1,,,,,,,,,,\n"
    "#1002,li@example.cn,paid,,CNY,300,0,0,300,2026-11-02T08:00:00Z,2,Hoodie,150,HD-1,李娜,100020,CN,"
    "c-2,vip,zh,,,,\n"
)


@pytest.fixture
def database(database_url: str) -> Database:
    upgrade(database_url)
    return Database(database_url)


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def count(database: Database, model: type) -> int:
    with database.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_shopify_style_csv_imports_orders_items_customers_and_shipments(
    database: Database, tmp_path: Path
) -> None:
    report = import_file(database, write(tmp_path, "orders.csv", HEADER + GOOD))
    assert (report.created, report.updated, report.errors) == (2, 0, [])
    with database.session() as session:
        order = find_order(session, "1001")
        assert order is not None
        assert [i.name for i in order.items] == ["Denim jacket", "Socks"]
        assert (order.status, str(order.total), order.shipping_postcode) == ("in_transit", "98.00", "28013")
        assert order.shipments[0].tracking_number == "JD0001"
        assert order.placed_at.isoformat() == "2026-11-01T09:00:00+00:00"
        second = find_order(session, "1002")
        assert second is not None and second.status == "processing"  # paid, not yet fulfilled
        customer = session.scalars(select(Customer).where(Customer.external_id == "c-2")).one()
        assert (customer.tier, customer.preferred_language) == ("vip", "zh")


def test_importing_twice_updates_and_never_duplicates(database: Database, tmp_path: Path) -> None:
    path = write(tmp_path, "orders.csv", HEADER + GOOD)
    import_file(database, path)
    path.write_text(HEADER + GOOD.replace("in_transit", "delivered"), encoding="utf-8")
    report = import_file(database, path)
    assert (report.created, report.updated) == (0, 2)
    assert count(database, Order) == 2 and count(database, Customer) == 2
    with database.session() as session:
        order = find_order(session, "1001")
        assert order is not None and order.status == "delivered" and len(order.items) == 2


BAD_ROWS = [
    ("#2001,bob@example.com,paid,,EUR,10,0,0,-5,2026-11-01,1,Cap,10,C-1,,,,,,,,,,\n", "Total is negative"),
    ("#2002,bob@example.com,paid,,EUR,10,0,0,10,yesterday,1,Cap,10,C-1,,,,,,,,,,\n", "is not a date"),
    ("#2003,,paid,,EUR,10,0,0,10,2026-11-01,1,Cap,10,C-1,,,,,,,,,,\n", "Email is missing"),
    ("#12,bob@example.com,paid,,EUR,10,0,0,10,2026-11-01,1,Cap,10,C-1,,,,,,,,,,\n", "order number"),
    ("#2005,bob@example.com,paid,,EURO,10,0,0,10,2026-11-01,1,Cap,10,C-1,,,,,,,,,,\n", "Currency"),
    ("#2006,bob@example.com,paid,,EUR,10,0,0,ten,2026-11-01,1,Cap,10,C-1,,,,,,,,,,\n", "not an amount"),
    ("#2007,bob@example.com,paid,,EUR,10,0,0,10,2026-11-01,-1,Cap,10,C-1,,,,,,,,,,\n", "quantity"),
    ("#2008,bob@example.com,paid,,EUR,10,0,0,10,2026-11-01,1,Cap,10,C-1,,,,,gold,,,,,\n", "Customer Tier"),
]


def test_bad_rows_are_reported_and_the_good_ones_import(database: Database, tmp_path: Path) -> None:
    content = HEADER + GOOD + "".join(row for row, _ in BAD_ROWS)
    report = import_file(database, write(tmp_path, "orders.csv", content))
    assert report.created == 2
    assert len(report.errors) == len(BAD_ROWS)
    for (where, _, message), (_, expected) in zip(report.errors, BAD_ROWS, strict=True):
        assert expected in message, (where, message)
        assert where.startswith("row ")
    assert count(database, Order) == 2


def test_a_row_that_is_not_utf8_is_reported_and_the_rest_imports(database: Database, tmp_path: Path) -> None:
    bad = "#3001,jose@example.com,paid,,EUR,10,0,0,10,2026-11-01,1,Camiseta,10,T-1,José Pérez,,,,,,,,,\n"
    content = HEADER.encode() + GOOD.encode() + bad.encode("latin-1")
    report = import_file(database, write(tmp_path, "orders.csv", content))
    assert report.created == 2
    [(where, number, message)] = report.errors
    assert (where, number) == ("row 5", "#3001") and "not UTF-8" in message


def test_a_file_without_a_required_column_is_refused_whole(database: Database, tmp_path: Path) -> None:
    path = write(tmp_path, "orders.csv", "Name,Email\n#1,a@b.c\n")
    with pytest.raises(ImportFileError, match="Currency"):
        import_file(database, path)


def test_sql_looking_text_is_only_text(database: Database, tmp_path: Path) -> None:
    name = "Robert'); DROP TABLE orders;--"
    row = f'#4001,x@example.com,paid,,EUR,10,0,0,10,2026-11-01,1,"{name}",10,S,,,,,,,,,,\n'
    report = import_file(database, write(tmp_path, "orders.csv", HEADER + row))
    assert report.created == 1
    with database.session() as session:
        order = find_order(session, "4001")
        assert order is not None and order.items[0].name == "Robert'); DROP TABLE orders;--"


def test_json_import_with_checkpoints_and_bad_entries(database: Database, tmp_path: Path) -> None:
    orders = [*demo.records()[:3], {"number": "5001"}, "not an object"]
    path = write(tmp_path, "orders.json", json.dumps({"orders": orders}))
    with database.session() as session:
        for email, name, role, languages in demo.STAFF:
            session.add(StaffMember(email=email, name=name, role=role, languages=languages))
    report = import_file(database, path)
    assert report.created == 3
    assert [where for where, _, _ in report.errors] == ["order 4", "order 5"]
    with database.session() as session:
        order = find_order(session, "10233")
        assert order is not None and len(order.shipments[0].checkpoints) == 3


def test_demo_data_loads_every_status_and_is_idempotent(database: Database) -> None:
    first = demo.load(database)
    assert first.errors == [] and first.created == len(demo.ORDERS)
    again = demo.load(database)
    assert (again.created, again.updated) == (0, len(demo.ORDERS))
    with database.session() as session:
        statuses = set(session.scalars(select(Order.status)))
    assert statuses >= {"pending", "processing", "in_transit", "delivered", "delayed", "customs", "cancelled"}


def test_the_import_command_reports_rows_and_exit_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    good = write(tmp_path, "good.csv", HEADER + GOOD)
    assert main(["import", "orders", str(good)]) == 0
    bad = write(tmp_path, "bad.csv", HEADER + BAD_ROWS[0][0])
    assert main(["import", "orders", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "error: bad.csv row 2 (order #2001): Total is negative" in out
    assert main(["import", "orders", str(tmp_path / "missing.csv")]) == 2
