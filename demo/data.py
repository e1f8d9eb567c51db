"""What the demo practice is made of: its details, staff, catalog, and the scenarios its
first clients live through. Data only; `demo.practice` builds it through the services."""

from __future__ import annotations

from dataclasses import dataclass

from catalog.models import PackageKind, PeriodUnit
from practice import roles

DEMO_PASSWORD = "caspen-demo"
RICH_CLIENTS = 300  # clients who get a history through the services
MIN_CLIENTS = 20  # enough for every package and invoice status
BUSY_PRACTICE_CLIENTS = 300  # from this many clients on, the calendar is full
BATCH = 5000
EXTRA_PACKAGE_SHARE = 0.3  # of the bulk clients, this share holds a package

PRACTICE = {
    "name": "Harbour Physio & Allied Health",
    "address": "Level 2, 14 Alfred Street\nCircular Quay NSW 2000",
    "phone": "(02) 9251 4400",
    "email": "hello@harbourphysio.example",
    "tax_id": "ABN 51 824 753 556",
}
LOCATIONS = {
    "quay": ("Circular Quay", "Level 2, 14 Alfred Street, Circular Quay NSW 2000"),
    "manly": ("Manly", "Shop 3, 25 Wentworth Street, Manly NSW 2095 (hydrotherapy pool)"),
}
# username, first name, last name, role, (practitioner colour, home location) or None
STAFF = [
    ("mia.thompson", "Mia", "Thompson", roles.PRACTITIONER, ("#2f7d6d", "quay")),
    ("liam.oconnor", "Liam", "O'Connor", roles.PRACTITIONER, ("#3b6fb6", "manly")),
    ("grace.patel", "Grace", "Patel", roles.PRACTITIONER, ("#b5477a", "quay")),
    ("ava.chen", "Ava", "Chen", roles.PRACTITIONER, ("#c07a1f", "manly")),
    ("rosa.nguyen", "Rosa", "Nguyen", roles.RECEPTION, None),
    ("sam.okafor", "Sam", "Okafor", roles.ACCOUNTANT, None),
    ("helen.brooks", "Helen", "Brooks", roles.ADMIN, None),
]
GST, GST_FREE = "GST", "GST-free"
# name: (category, minutes, price incl. GST, tax, practitioners' usernames)
SERVICES = {
    "Physio initial consultation": ("Physiotherapy", 45, "120.00", GST_FREE, ["mia.thompson"]),
    "Physio follow-up": ("Physiotherapy", 30, "95.00", GST_FREE, ["mia.thompson", "liam.oconnor"]),
    "Extended physio session": ("Physiotherapy", 60, "150.00", GST_FREE, ["mia.thompson"]),
    "Remedial massage (60 min)": ("Massage", 60, "115.00", GST, ["grace.patel"]),
    "Remedial massage (30 min)": ("Massage", 30, "70.00", GST, ["grace.patel"]),
    "Clinical pilates class": ("Exercise", 55, "38.00", GST, ["liam.oconnor"]),
    "Private pilates session": ("Exercise", 55, "95.00", GST, ["liam.oconnor"]),
    "Hydrotherapy session": ("Exercise", 45, "65.00", GST_FREE, ["liam.oconnor"]),
    "Dietetics initial consultation": ("Dietetics", 60, "165.00", GST_FREE, ["ava.chen"]),
    "Dietetics review": ("Dietetics", 30, "90.00", GST_FREE, ["ava.chen"]),
    "Occupational therapy assessment": (
        "Occupational therapy",
        60,
        "195.00",
        GST_FREE,
        ["ava.chen"],
    ),
    "Occupational therapy review": ("Occupational therapy", 45, "145.00", GST_FREE, ["ava.chen"]),
}
# Classes: places per session (every other service is an ordinary appointment, 1).
CLASS_CAPACITY = {"Clinical pilates class": 8}
# The class the demo shows on the next working day: 6 of 8 places taken, 4 of them by
# clients using their own 10-class pass (issue 12).
SHOWCASE_CLASS = ("Clinical pilates class", "Pilates 10-class pass", 8 * 60 + 45)
SHOWCASE_ON_PASS, SHOWCASE_BOOKED = 4, 6


@dataclass(frozen=True)
class PackageSpec:
    name: str
    kind: str
    price: str
    tax: str
    expires: tuple[int, str] | None
    services: dict[str, int | None]  # service name: allowance (fixed) or None (flexible)
    credits: int
    practitioner: str
    description: str = ""
    archived: bool = False


PACKAGES = [
    PackageSpec(
        "Physio Starter Pack (5 sessions)",
        PackageKind.FIXED,
        "470.00",
        GST_FREE,
        (3, PeriodUnit.MONTHS),
        {"Physio initial consultation": 1, "Physio follow-up": 4},
        5,
        "mia.thompson",
        "New injuries: assessment plus four follow-ups. Saves $45.",
    ),
    PackageSpec(
        "Pilates 10-class pass",
        PackageKind.FLEXIBLE,
        "330.00",
        GST,
        (6, PeriodUnit.MONTHS),
        {"Clinical pilates class": None},
        10,
        "liam.oconnor",
        "Ten group classes; saves $50 on casual rates.",
    ),
    PackageSpec(
        "Massage 5 pack",
        PackageKind.FLEXIBLE,
        "500.00",
        GST,
        (12, PeriodUnit.MONTHS),
        {"Remedial massage (60 min)": None, "Remedial massage (30 min)": None},
        5,
        "grace.patel",
        "Any five remedial massages, 30 or 60 minutes.",
    ),
    PackageSpec(
        "Rehab Combo (physio + hydro)",
        PackageKind.FIXED,
        "420.00",
        GST_FREE,
        (8, PeriodUnit.WEEKS),
        {"Physio follow-up": 2, "Hydrotherapy session": 4},
        6,
        "liam.oconnor",
        "Post-surgery rehab: two physio reviews and four pool sessions.",
    ),
    PackageSpec(
        "Dietetics Kickstart",
        PackageKind.FIXED,
        "310.00",
        GST_FREE,
        None,
        {"Dietetics initial consultation": 1, "Dietetics review": 2},
        3,
        "ava.chen",
        "Initial consultation and two reviews; does not expire.",
    ),
    PackageSpec(
        "Winter Pilates 8 pass (2025)",
        PackageKind.FLEXIBLE,
        "260.00",
        GST,
        (3, PeriodUnit.MONTHS),
        {"Clinical pilates class": None},
        8,
        "liam.oconnor",
        "Seasonal offer, no longer sold.",
        archived=True,
    ),
]
CLIENT_NOTES = [
    "Prefers morning appointments.",
    "Referred by GP for lower back pain.",
    "Private health cover: extras with Bupa.",
    "Training for the City2Surf.",
    "Post knee reconstruction (left), cleared by surgeon.",
    "Please call rather than text.",
    "Office worker, neck and shoulder tension.",
]
CANCEL_PACKAGE_REASONS = [
    "Client moved interstate.",
    "Medical advice: stop treatment for now; unused sessions refunded.",
    "Bought twice by mistake.",
]


@dataclass
class Scenario:
    """What happens to one client with a package: the first clients get `FIXED_SCENARIOS`
    in order, the others one drawn by `demo.history.History.random_scenario`."""

    package: str
    started_days_ago: int
    uses: int = 0  # sessions already used (past, linked, arrived)
    future: int = 0  # upcoming linked sessions
    cancel: bool = False
    extend: bool = False
    adjust: bool = False
    invoice: str = "paid"  # paid | part | unpaid | draft | none


# The first clients get these in order, so every status appears even for small
# `--clients`; the others draw from them at random.
FIXED_SCENARIOS = [
    Scenario("Physio Starter Pack (5 sessions)", 30, uses=3, future=1, invoice="paid"),
    Scenario("Massage 5 pack", 80, uses=5, invoice="paid"),  # Completed
    Scenario("Pilates 10-class pass", 230, invoice="paid"),  # Expired
    Scenario("Massage 5 pack", 40, uses=1, cancel=True, invoice="paid"),  # Canceled
    Scenario("Rehab Combo (physio + hydro)", 50, uses=5, extend=True, invoice="unpaid"),  # Overdue
    Scenario("Pilates 10-class pass", 10, uses=2, future=2, invoice="part"),  # Part paid
    Scenario("Dietetics Kickstart", 45, uses=2, adjust=True, invoice="part"),  # Overdue, part paid
    Scenario("Physio Starter Pack (5 sessions)", 0, future=2, invoice="draft"),  # Draft
    Scenario("Physio Starter Pack (5 sessions)", 100, uses=5, invoice="paid"),  # Completed
    Scenario("Pilates 10-class pass", 5, uses=1, future=3, invoice="unpaid"),  # Open
]
