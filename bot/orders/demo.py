"""A realistic demo data set: staff, customers in ten countries, orders in every status.

``python -m bot demo-data`` loads it (idempotently, through the same checks as an
import); ``make run`` loads it into a fresh database so a new user can try order
tracking at once. Dates are relative to today, so the demo always looks current.
The demo customers and their orders are listed in README.md.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, select

from bot.db.database import Database
from bot.db.models import Order, StaffMember
from bot.orders.importer import ImportReport, Record, import_records
from bot.orders.statuses import Group, group

STAFF = [
    ("mei.chen@demo-store.test", "Mei Chen", "manager", "zh en ja"),
    ("lucas.martin@demo-store.test", "Lucas Martin", "manager", "fr es en"),
    ("sara.klein@demo-store.test", "Sara Klein", "agent", "de en"),
    ("omar.haddad@demo-store.test", "Omar Haddad", "agent", "ar en fr"),
    ("admin@demo-store.test", "Store Admin", "admin", "en"),
]

# (customer id, name, email, country, language, tier, manager, postcode)
CUSTOMERS = [
    ("c-1001", "Emily Carter", "emily.carter@example.com", "US", "en", "standard", "", "10001"),
    (
        "c-1002",
        "Ana García",
        "ana.garcia@example.com",
        "MX",
        "es",
        "vip",
        "lucas.martin@demo-store.test",
        "06600",
    ),
    ("c-1003", "Camille Dubois", "camille.dubois@example.fr", "FR", "fr", "standard", "", "75011"),
    ("c-1004", "Jonas Weber", "jonas.weber@example.de", "DE", "de", "standard", "", "10115"),
    ("c-1005", "王芳", "wang.fang@example.cn", "CN", "zh", "vip", "mei.chen@demo-store.test", "100020"),
    ("c-1006", "佐藤 健", "ken.sato@example.jp", "JP", "ja", "standard", "", "1000001"),
    ("c-1007", "ليلى حسن", "layla.hassan@example.sa", "SA", "ar", "vip", "mei.chen@demo-store.test", "11564"),
    ("c-1008", "Beatriz Souza", "beatriz.souza@example.com.br", "BR", "pt", "standard", "", "01310100"),
    ("c-1009", "Иван Петров", "ivan.petrov@example.ru", "RU", "ru", "standard", "", "101000"),
    ("c-1010", "김민준", "minjun.kim@example.kr", "KR", "ko", "standard", "", "04524"),
]

CURRENCIES = {"US": "USD", "MX": "MXN", "FR": "EUR", "DE": "EUR", "CN": "CNY", "JP": "JPY", "SA": "SAR"}
CURRENCIES |= {"BR": "BRL", "RU": "RUB", "KR": "KRW"}

PRODUCTS = [
    ("HD-GRY-M", "Organic cotton hoodie, grey, M", "49.00"),
    ("JK-DNM-L", "Denim jacket, L", "89.00"),
    ("EB-PRO-BLK", "Wireless earbuds Pro, black", "79.00"),
    ("SW-FIT-2", "Fitness smartwatch 2", "129.00"),
    ("TS-WHT-S", "Linen T-shirt, white, S", "25.00"),
    ("CH-65W", "65 W USB-C charger", "35.00"),
]

#: (number, customer index, status, days ago placed, carrier, tracking number, checkpoints)
#: checkpoints: (days ago, place, description, status)
ORDERS: list[tuple[str, int, str, int, str, str, list[tuple[float, str, str, str]]]] = [
    (
        "10231",
        0,
        "in_transit",
        6,
        "DHL Express",
        "JD014600003521",
        [
            (5, "Shenzhen, CN", "Shipment picked up", "info_received"),
            (4, "Hong Kong, HK", "Departed facility", "in_transit"),
            (2, "Cincinnati Hub, US", "Arrived at facility", "in_transit"),
        ],
    ),
    (
        "10232",
        0,
        "delivered",
        20,
        "UPS",
        "1Z999AA10123456784",
        [
            (18, "Shenzhen, CN", "Origin scan", "info_received"),
            (14, "Louisville, US", "Arrived at facility", "in_transit"),
            (12, "New York, US", "Delivered, front door", "delivered"),
        ],
    ),
    (
        "10233",
        1,
        "out_for_delivery",
        8,
        "DHL Express",
        "JD014600003610",
        [
            (7, "Shenzhen, CN", "Shipment picked up", "info_received"),
            (3, "Ciudad de México, MX", "Customs clearance completed", "customs"),
            (0.2, "Ciudad de México, MX", "With delivery courier", "out_for_delivery"),
        ],
    ),
    ("10234", 1, "processing", 1, "", "", []),
    (
        "10235",
        2,
        "customs",
        9,
        "La Poste Colissimo",
        "LP123456789FR",
        [
            (8, "Shenzhen, CN", "Parcel handed to the carrier", "info_received"),
            (3, "Roissy, FR", "Held by customs, duties to be paid", "customs"),
        ],
    ),
    (
        "10236",
        3,
        "delayed",
        16,
        "DHL Paket",
        "00340434161094012345",
        [
            (15, "Shenzhen, CN", "Shipment picked up", "info_received"),
            (11, "Leipzig, DE", "Arrived at hub", "in_transit"),
            (9, "Leipzig, DE", "Delay: high volume at the hub", "delayed"),
        ],
    ),
    (
        "10237",
        4,
        "shipped",
        3,
        "SF Express",
        "SF1234567890123",
        [
            (2, "深圳, CN", "Collected", "info_received"),
        ],
    ),
    (
        "10238",
        4,
        "refunded",
        40,
        "SF Express",
        "SF1234567890555",
        [
            (38, "深圳, CN", "Collected", "info_received"),
            (35, "北京, CN", "Delivered", "delivered"),
        ],
    ),
    ("10239", 5, "pending", 0, "", "", []),
    (
        "10240",
        6,
        "delivered",
        12,
        "Aramex",
        "AX30000123456",
        [
            (11, "Dubai, AE", "Shipment picked up", "info_received"),
            (7, "Riyadh, SA", "Customs clearance completed", "customs"),
            (5, "Riyadh, SA", "Delivered", "delivered"),
        ],
    ),
    ("10241", 6, "paid", 0, "", "", []),
    (
        "10242",
        7,
        "exception",
        14,
        "Correios",
        "LB123456789HK",
        [
            (13, "Hong Kong, HK", "Posted", "info_received"),
            (6, "Curitiba, BR", "Awaiting import tax payment", "exception"),
        ],
    ),
    ("10243", 8, "cancelled", 5, "", "", []),
    (
        "10244",
        9,
        "returned",
        30,
        "CJ Logistics",
        "CJ612345678901",
        [
            (28, "Incheon, KR", "Arrived", "in_transit"),
            (25, "Seoul, KR", "Returned to sender", "returned"),
        ],
    ),
    (
        "A40912",
        9,
        "in_transit",
        4,
        "CJ Logistics",
        "CJ612345678999",
        [
            (3, "Shenzhen, CN", "Picked up", "info_received"),
            (1, "Incheon, KR", "Arrived at hub", "in_transit"),
        ],
    ),
]


def records(now: datetime | None = None) -> list[dict[str, Any]]:
    """The demo orders in the import's JSON shape."""
    now = now or datetime.now(timezone.utc).replace(microsecond=0)
    result = []
    for position, (number, who, status, days, carrier, tracking, points) in enumerate(ORDERS):
        cid, name, email, country, language, tier, manager, postcode = CUSTOMERS[who]
        products = [PRODUCTS[(position + k) % len(PRODUCTS)] for k in range(1 + position % 2)]
        items = [{"sku": sku, "name": title, "quantity": 1, "price": price} for sku, title, price in products]
        subtotal = sum(float(price) for _, _, price in products)
        shipping = 0.0 if subtotal >= 99 else 9.9
        placed = now - timedelta(days=days, hours=3)
        shipments = []
        if tracking:
            shipments.append(
                {
                    "carrier": carrier,
                    "tracking_number": tracking,
                    "status": points[-1][3] if status not in ("refunded",) else "delivered",
                    "estimated_delivery": (placed + timedelta(days=12)).date().isoformat()
                    if group(status) not in (Group.DELIVERED, Group.CLOSED)  # nothing on its way
                    else None,
                    "shipped_at": (now - timedelta(days=points[0][0])).isoformat(),
                    "checkpoints": [
                        {
                            "time": (now - timedelta(days=ago)).isoformat(),
                            "place": place,
                            "description": description,
                            "status": point_status,
                        }
                        for ago, place, description, point_status in points
                    ],
                }
            )
        result.append(
            {
                "number": number,
                "email": email,
                "currency": CURRENCIES[country],
                "subtotal": f"{subtotal:.2f}",
                "shipping": f"{shipping:.2f}",
                "taxes": "0",
                "total": f"{subtotal + shipping:.2f}",
                "status": status,
                "placed_at": placed.isoformat(),
                "shipping_postcode": postcode,
                "shipping_country": country,
                "customer": {
                    "id": cid,
                    "name": name,
                    "country": country,
                    "language": language,
                    "tier": tier,
                    "manager": manager,
                },
                "items": items,
                "shipments": shipments,
            }
        )
    return result


def load(database: Database) -> ImportReport:
    """Add (or refresh) the demo staff, customers and orders."""
    with database.session() as session:
        for email, name, role, languages in STAFF:
            staff = session.scalars(select(StaffMember).where(StaffMember.email == email)).one_or_none()
            if staff is None:
                session.add(StaffMember(email=email, name=name, role=role, languages=languages))
    return import_records(
        database, [Record(f"demo order {n}", r) for n, r in enumerate(records(), 1)], csv_format=False
    )


def is_empty(database: Database) -> bool:
    with database.session() as session:
        return not session.scalar(select(func.count()).select_from(Order))
