"""Deterministic demo data: realistic subjects across jurisdictions and their records in every category.

Pure generation, no database: `generate_batch(...)` turns subject indexes into rows (tuples in
`COLUMNS` order) so it can run in worker processes while the main process writes with COPY.
Subject `i` of seed `s` is always the same person whatever the batch size, worker count or offset:
each subject draws from its own `random.Random` seeded by (s, i). Data keys are random (os.urandom)
and ciphertexts differ run to run by design; their plaintexts are deterministic.
"""

import base64
import hashlib
import os
import random
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache, lru_cache

from . import crypto
from .models import normalize_email

# --- Where subjects live ------------------------------------------------------------------------

# (country, region, weight, locale). Weights are percent of subjects; California first by design.
JURISDICTIONS = [
    ("US", "CA", 30, "us"),
    ("US", "NY", 6, "us"), ("US", "TX", 6, "us"), ("US", "WA", 4, "us"), ("US", "IL", 3, "us"),
    ("US", "MA", 3, "us"), ("US", "FL", 3, "us"), ("US", "CO", 2, "us"), ("US", "VA", 2, "us"),
    ("DE", "BY", 3, "de"), ("DE", "BE", 2, "de"), ("DE", "NW", 2, "de"),
    ("FR", "IDF", 3, "fr"), ("FR", "ARA", 2, "fr"),
    ("IE", "D", 2, "ie"), ("IE", "CO", 1, "ie"),
    ("NL", "NH", 2, "nl"), ("NL", "ZH", 2, "nl"),
    ("GB", "ENG", 7, "gb"), ("GB", "SCT", 1, "gb"), ("GB", "WLS", 1, "gb"),
    ("CA", "ON", 2, "us"), ("AU", "NSW", 1, "gb"),
    ("", "", 1, "us"),  # location unknown (a web visitor who never said)
]  # fmt: skip
_JUR_CUM: list[float] = []
_acc = 0.0
for _c, _r, _w, _l in JURISDICTIONS:
    _acc += _w
    _JUR_CUM.append(_acc)

COUNTRY_NAMES = {
    "US": "United States", "DE": "Germany", "FR": "France", "IE": "Ireland", "NL": "Netherlands",
    "GB": "United Kingdom", "CA": "Canada", "AU": "Australia",
}  # fmt: skip

FIRST = {
    "us": ["James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
           "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Carlos", "Maria", "Wei", "Priya",
           "Daniel", "Sarah", "Kevin", "Emily", "Jamal", "Aisha", "Hiroshi", "Ana", "Tyler", "Grace"],
    "de": ["Lukas", "Anna", "Maximilian", "Sophie", "Jonas", "Marie", "Felix", "Lea", "Paul", "Hannah",
           "Leon", "Mia", "Finn", "Emma", "Jürgen", "Ursula", "Stefan", "Katrin", "Tobias", "Sabine"],
    "fr": ["Jean", "Camille", "Louis", "Chloé", "Hugo", "Léa", "Lucas", "Manon", "Gabriel", "Inès",
           "Thomas", "Sarah", "Antoine", "Julie", "Nicolas", "Élodie", "Pierre", "Amélie", "Mathieu", "Claire"],
    "ie": ["Seán", "Aoife", "Conor", "Ciara", "Patrick", "Niamh", "Liam", "Siobhán", "Cian", "Róisín",
           "Darragh", "Saoirse", "Eoin", "Orla", "Declan", "Sinéad"],
    "nl": ["Daan", "Emma", "Sem", "Julia", "Lucas", "Sophie", "Bram", "Fleur", "Jeroen", "Anouk",
           "Thijs", "Sanne", "Pieter", "Lotte", "Ruben", "Eva"],
    "gb": ["Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Jack", "Olivia", "Charlie", "Emily",
           "Thomas", "Sophie", "Alfie", "Poppy", "Freddie", "Ella", "Rhys", "Fiona", "Hamish", "Eilidh"],
}  # fmt: skip
LAST = {
    "us": ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
           "Martinez", "Hernandez", "Lopez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson",
           "Lee", "Nguyen", "Kim", "Patel", "Chen", "Walker", "Young", "Allen", "King", "Wright", "Scott"],
    "de": ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
           "Hoffmann", "Koch", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Braun", "Zimmermann"],
    "fr": ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
           "Moreau", "Simon", "Laurent", "Lefebvre", "Michel", "Garcia", "David", "Bertrand", "Roux"],
    "ie": ["Murphy", "Kelly", "O'Sullivan", "Walsh", "Smith", "O'Brien", "Byrne", "Ryan", "O'Connor",
           "O'Neill", "Reilly", "Doyle", "McCarthy", "Gallagher", "Doherty", "Kennedy"],
    "nl": ["de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Janssen", "Visser",
           "Smit", "Meijer", "de Boer", "Mulder", "de Groot", "Bos", "Vos", "Peters"],
    "gb": ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Robinson",
           "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Campbell"],
}  # fmt: skip
# (city, postal code pattern: '#' digit, 'A' letter), street names, free-mail domains, phone format
CITIES = {
    ("US", "CA"): [("Los Angeles", "900##"), ("San Francisco", "941##"), ("San Diego", "921##"),
                   ("San Jose", "951##"), ("Irvine", "926##"), ("Sacramento", "958##"), ("Fresno", "937##")],
    ("US", "NY"): [("New York", "100##"), ("Buffalo", "142##"), ("Rochester", "146##")],
    ("US", "TX"): [("Houston", "770##"), ("Austin", "787##"), ("Dallas", "752##")],
    ("US", "WA"): [("Seattle", "981##"), ("Spokane", "992##")],
    ("US", "IL"): [("Chicago", "606##"), ("Naperville", "605##")],
    ("US", "MA"): [("Boston", "021##"), ("Worcester", "016##")],
    ("US", "FL"): [("Miami", "331##"), ("Orlando", "328##"), ("Tampa", "336##")],
    ("US", "CO"): [("Denver", "802##"), ("Boulder", "803##")],
    ("US", "VA"): [("Richmond", "232##"), ("Arlington", "222##")],
    ("DE", "BY"): [("München", "80###"), ("Nürnberg", "90###"), ("Augsburg", "86###")],
    ("DE", "BE"): [("Berlin", "10###")],
    ("DE", "NW"): [("Köln", "50###"), ("Düsseldorf", "40###"), ("Dortmund", "44###")],
    ("FR", "IDF"): [("Paris", "750##"), ("Versailles", "78000"), ("Boulogne-Billancourt", "92100")],
    ("FR", "ARA"): [("Lyon", "6900#"), ("Grenoble", "38000"), ("Clermont-Ferrand", "63000")],
    ("IE", "D"): [("Dublin", "D0# A#A#")],
    ("IE", "CO"): [("Cork", "T12 A#A#")],
    ("NL", "NH"): [("Amsterdam", "10## AA"), ("Haarlem", "20## AA")],
    ("NL", "ZH"): [("Rotterdam", "30## AA"), ("Den Haag", "25## AA"), ("Leiden", "23## AA")],
    ("GB", "ENG"): [("London", "EC#A #AA"), ("Manchester", "M# #AA"), ("Birmingham", "B# #AA"),
                    ("Leeds", "LS# #AA")],
    ("GB", "SCT"): [("Edinburgh", "EH# #AA"), ("Glasgow", "G# #AA")],
    ("GB", "WLS"): [("Cardiff", "CF## #AA")],
    ("CA", "ON"): [("Toronto", "M#A #A#"), ("Ottawa", "K#A #A#")],
    ("AU", "NSW"): [("Sydney", "2###"), ("Newcastle", "23##")],
    ("", ""): [("", "")],
}  # fmt: skip
STREETS = {
    "us": ["Main Street", "Oak Avenue", "Maple Drive", "Cedar Lane", "Sunset Boulevard", "Park Avenue",
           "Washington Street", "Lake Shore Drive", "Mission Street", "Elm Court"],
    "de": ["Hauptstraße", "Bahnhofstraße", "Gartenstraße", "Schillerstraße", "Goethestraße", "Lindenweg"],
    "fr": ["rue de la République", "avenue Victor Hugo", "rue Pasteur", "boulevard Voltaire", "rue des Lilas"],
    "ie": ["Main Street", "O'Connell Street", "Church Road", "Patrick Street", "Grafton Street"],
    "nl": ["Kerkstraat", "Dorpsstraat", "Stationsweg", "Molenweg", "Prinsengracht", "Keizersgracht"],
    "gb": ["High Street", "Station Road", "Church Lane", "Victoria Road", "Queen Street", "Mill Lane"],
}  # fmt: skip
FREEMAIL = {
    "us": ["gmail.com", "outlook.com", "yahoo.com", "icloud.com", "aol.com"],
    "de": ["gmx.de", "web.de", "t-online.de", "gmail.com"],
    "fr": ["orange.fr", "free.fr", "laposte.net", "gmail.com"],
    "ie": ["eircom.net", "gmail.com", "outlook.ie"],
    "nl": ["ziggo.nl", "kpnmail.nl", "gmail.com"],
    "gb": ["btinternet.com", "gmail.com", "outlook.co.uk", "sky.com"],
}  # fmt: skip
PHONE = {"US": "+1 ### ### ####", "DE": "+49 ### #######", "FR": "+33 # ## ## ## ##",
         "IE": "+353 ## ### ####", "NL": "+31 ## ### ####", "GB": "+44 #### ######",
         "CA": "+1 ### ### ####", "AU": "+61 # #### ####", "": "+1 ### ### ####"}  # fmt: skip
COMPANY_SUFFIX = {"us": ["Inc.", "LLC", "Corp."], "de": ["GmbH", "AG", "GmbH & Co. KG"], "fr": ["SAS", "SARL", "SA"],
                  "ie": ["Ltd", "DAC"], "nl": ["B.V.", "N.V."], "gb": ["Ltd", "plc", "LLP"]}  # fmt: skip
COMPANY_WORDS = [
    [
        "Apex",
        "Summit",
        "Harbor",
        "Pioneer",
        "Granite",
        "Silverline",
        "Northstar",
        "Bluewater",
        "Redwood",
        "Ironbridge",
        "Evergreen",
        "Keystone",
        "Riverside",
        "Atlas",
        "Vanguard",
        "Cobalt",
        "Meridian",
    ],
    [
        "Precision",
        "Foods",
        "Plastics",
        "Fabrication",
        "Electronics",
        "Distribution",
        "Chemicals",
        "Machinery",
        "Packaging",
        "Pharma",
        "Components",
        "Furniture",
        "Automotive",
        "Metals",
        "Supply",
    ],
]
JOB_TITLES = [
    "CFO", "Chief Operating Officer", "IT Manager", "ERP Administrator", "Plant Manager",
    "Supply Chain Director", "Procurement Lead", "Production Planner", "Controller", "Warehouse Manager",
    "CEO", "Operations Analyst", "Head of Finance", "Systems Engineer", "Inventory Manager", "Buyer",
]  # fmt: skip
COMPANY_SIZES = ["1-10", "11-50", "51-200", "201-500", "501-1000", "1000+"]
TOPICS = ["erp", "manufacturing", "distribution", "events", "webinars", "product-news", "case-studies"]
PAGES = ["/", "/pricing", "/erp", "/manufacturing-erp", "/distribution-erp", "/crm", "/contact-us",
         "/resources/erp-buyers-guide", "/industries/food-and-beverage", "/events", "/blog/what-is-erp",
         "/customers", "/careers", "/demo-request"]  # fmt: skip
DOWNLOADS = ["ERP Product Brochure.pdf", "Manufacturing ERP Guide.pdf", "ROI Calculator.xlsx",
             "CRM Product Brochure.pdf", "Traceability Whitepaper.pdf"]  # fmt: skip
EMAILS = ["Newsletter March", "Webinar invitation: Smart Manufacturing", "Product update 8.1",
          "Customer event invitation", "ERP buyer's guide follow-up"]  # fmt: skip
USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Microsoft Outlook 16.0",
]  # fmt: skip
SURVEYS = [
    ("ERP readiness assessment", "What is your biggest operational challenge?",
     ["Inventory accuracy across {n} warehouses", "Month-end close takes {n} days", "Too many spreadsheets",
      "Production scheduling is manual", "We can't trace lots back to suppliers"]),
    ("Customer satisfaction 2024", "How could we improve our support?",
     ["Faster response times, we waited {n} days", "More training videos", "Happy overall",
      "A dedicated account manager", "Better documentation for the API"]),
    ("Manufacturing maturity quiz", "Describe your shop floor data collection.",
     ["Paper travellers, {n} stations", "Barcode scanners on every line", "Partially automated with MES",
      "We are piloting IoT sensors", "Mostly manual entry at shift end"]),
]  # fmt: skip
PAYMENT_BRANDS = ["visa", "mastercard", "amex", "sepa_debit", "ach_debit"]
FREQUENCIES = ["weekly", "monthly", "quarterly"]

# --- Reference rows created once per database (idempotent, by natural key) ------------------------

# (legal_name, kind, street, city, region, postal_code, country, nature_of_business, product_examples,
#  same_brand_affiliate, privacy_contact_email)
THIRD_PARTIES = [
    ("Brightwave Email Services, Inc.", "service_provider", "500 Howard Street", "San Francisco", "CA", "94105",
     "US", "Email delivery and marketing automation platform", "", False, "privacy@brightwave.example"),
    ("Northgate Payments LLC", "service_provider", "1201 N Orange Street", "Wilmington", "DE", "19801", "US",
     "Payment processing", "", False, "privacy@northgate.example"),
    ("Cumulus Hosting GmbH", "service_provider", "Mainzer Landstraße 50", "Frankfurt am Main", "HE", "60325",
     "DE", "Cloud hosting and backups", "", False, "datenschutz@cumulus.example"),
    ("Metricly Analytics Ltd.", "service_provider", "2 Grand Canal Square", "Dublin", "D", "D02 A342", "IE",
     "Website and email analytics", "", False, "dpo@metricly.example"),
    ("SYSPRO Europe Limited", "affiliate", "Baker Street 20", "London", "ENG", "W1U 3BW", "GB",
     "ERP software (the company's own brand in Europe)", "SYSPRO ERP, SYSPRO CRM", True,
     "privacy@eu.syspro.example"),
    ("Keystone Manufacturing Analytics Inc.", "affiliate", "300 Spectrum Center Drive", "Irvine", "CA", "92618",
     "US", "Manufacturing analytics software", "Shop-floor dashboards, OEE monitoring", False,
     "privacy@keystone-analytics.example"),
    ("Pacific ERP Partners LLC", "marketing_partner", "18500 Von Karman Avenue", "Irvine", "CA", "92612", "US",
     "Reseller and implementer of ERP software",
     "ERP implementation services, training, hardware bundles for manufacturers", False,
     "privacy@pacific-erp.example"),
    ("Midwest Manufacturing Media Inc.", "marketing_partner", "233 S Wacker Drive", "Chicago", "IL", "60606", "US",
     "Trade publications and industry events", "Magazines, webinars and trade shows for manufacturers",
     False, "privacy@mwmm.example"),
    ("Rheinland Industrie Events GmbH", "marketing_partner", "Messeplatz 1", "Köln", "NW", "50679", "DE",
     "Trade fairs", "Industrial automation trade fair, supplier matchmaking", False,
     "datenschutz@rie.example"),
]  # fmt: skip
# (code, name, owner, provider legal name, location, description)
EXTERNAL_SYSTEMS = [
    ("email-platform", "Email marketing platform", "Marketing operations", "Brightwave Email Services, Inc.",
     "US", "Newsletters, campaign emails, open and click tracking."),
    ("web-analytics", "Web analytics", "Digital marketing", "Metricly Analytics Ltd.", "IE",
     "Page views, downloads and device data from the website."),
    ("payments", "Payment processor vault", "Finance", "Northgate Payments LLC", "US",
     "Payment methods behind the tokens kept in user accounts."),
]  # fmt: skip

# --- Rows ----------------------------------------------------------------------------------------

# Column order of the generated tuples. "subject" holds the subject's position within its batch
# until the writer swaps in the database id.
COLUMNS = {
    "inventory.DataSubject": [
        "public_id", "kind", "name", "email", "email_normalized", "phone", "postal_address", "company",
        "role", "country", "region", "date_of_birth", "is_minor", "created_at", "updated_at",
    ],
    "inventory.DataKey": ["subject", "wrapped", "created_at"],
    "inventory.ContactPoint": ["subject", "source", "system", "collected_at", "kind", "value",
                               "value_normalized", "is_primary"],
    "inventory.UserAccount": ["subject", "source", "system", "collected_at", "username", "password_hash",
                              "payment_method_reference", "payment_brand", "last_login_at", "closed_at"],
    "inventory.CompanyAffiliation": ["subject", "source", "system", "collected_at", "company_name",
                                     "company_size", "company_location", "job_title", "buying_intent"],
    "inventory.MarketingPreference": ["subject", "source", "system", "collected_at", "channel", "topics",
                                      "frequency"],
    "inventory.SurveyResponse": ["subject", "source", "system", "collected_at", "survey", "question",
                                 "answer"],
    "inventory.ActivityEvent": ["subject", "source", "system", "collected_at", "kind", "target",
                                "ip_address", "device_id", "cookie_id", "user_agent", "geo_country"],
}  # fmt: skip

MINOR_SHARE = 0.025  # of individuals; policy §9 says they should not be here, which the demo shows
ENTITY_SHARE = 0.08
HISTORY_DAYS = 3 * 365


@dataclass(frozen=True)
class Lookups:
    """Ids of reference rows (sources by code, systems by code), resolved once by the writer."""

    sources: dict[str, int]
    systems: dict[str, int]


@dataclass
class Batch:
    start: int
    rows: dict[str, list[tuple]] = field(default_factory=dict)
    # Per subject position, its raw data key: the sealed columns hold plaintext until `seal_rows`
    # binds them to their row ids, which only the writing process knows. Never leaves memory.
    keys: list[bytes] = field(default_factory=list)

    def add(self, label: str, row: tuple) -> None:
        self.rows.setdefault(label, []).append(row)

    @property
    def size(self) -> int:
        return len(self.rows.get("inventory.DataSubject", []))


def _pattern(rng: random.Random, pattern: str) -> str:
    return "".join(
        str(rng.randrange(10)) if ch == "#" else chr(65 + rng.randrange(26)) if ch == "A" else ch
        for ch in pattern
    )


def _pick_jurisdiction(rng: random.Random) -> tuple[str, str, str]:
    x = rng.random() * _JUR_CUM[-1]
    for (country, region, _w, locale), edge in zip(JURISDICTIONS, _JUR_CUM, strict=True):
        if x < edge:
            return country, region, locale
    return JURISDICTIONS[0][0], JURISDICTIONS[0][1], JURISDICTIONS[0][3]


@lru_cache(maxsize=8192)
def _ascii(text: str) -> str:
    """ "Jürgen O'Brien" -> "jurgenobrien": for user names and email local parts."""
    plain = unicodedata.normalize("NFKD", text.replace("ß", "ss")).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())


@cache
def _company(locale: str, n: int) -> tuple[str, str]:
    """A company (name, domain) from a pool; the pool size scales with the number of subjects."""
    c = random.Random(n * 7919 + 17)
    name = f"{c.choice(COMPANY_WORDS[0])} {c.choice(COMPANY_WORDS[1])}"
    suffix = COMPANY_SUFFIX.get(locale, COMPANY_SUFFIX["us"])[n % len(COMPANY_SUFFIX.get(locale, ["x"]))]
    tld = {"de": "de", "fr": "fr", "ie": "ie", "nl": "nl", "gb": "co.uk"}.get(locale, "com")
    return f"{name} {suffix}", f"{_ascii(name)}{n}.{tld}"


def _ip(rng: random.Random) -> str:
    if rng.random() < 0.15:
        return f"2001:db8:{rng.getrandbits(16):x}:{rng.getrandbits(16):x}::{rng.getrandbits(16):x}"
    # Documentation and private ranges only: demo data must never point at real hosts.
    return rng.choice(["203.0.113.{}", "198.51.100.{}", "192.0.2.{}", "10.20.{}.7"]).format(
        rng.randrange(1, 255)
    )


def _subject(
    batch: Batch, pos: int, index: int, seed: int, as_of: datetime, companies: int, lk: Lookups, master
) -> None:
    rng = random.Random(seed * 4_294_967_296 + index)
    public_id = uuid.UUID(int=rng.getrandbits(128), version=4)
    country, region, locale = _pick_jurisdiction(rng)
    created = as_of - timedelta(seconds=rng.randrange(HISTORY_DAYS * 86400))
    is_entity = rng.random() < ENTITY_SHARE
    co_index = rng.randrange(companies)
    company, domain = _company(locale, co_index)
    city, postcode = rng.choice(CITIES.get((country, region), [("", "")]))
    street = f"{rng.randrange(1, 999)} {rng.choice(STREETS[locale])}"
    if locale in ("de", "nl", "fr"):
        street = f"{rng.choice(STREETS[locale])} {rng.randrange(1, 200)}"
    lines = [street, " ".join(p for p in [_pattern(rng, postcode), city] if p) if locale != "us" else
             f"{city}, {region} {_pattern(rng, postcode)}", COUNTRY_NAMES.get(country, "")]  # fmt: skip
    postal = "\n".join(p for p in lines if p.strip(", ")) if country else ""
    phone = _pattern(rng, PHONE.get(country, PHONE[""]))
    data_key = base64.urlsafe_b64encode(os.urandom(32))
    batch.keys.append(base64.urlsafe_b64decode(data_key))
    dob = None
    is_minor = False
    if is_entity:
        name, role, first, last = company, "", "", ""
        email = f"info@{domain}"
    else:
        first, last = rng.choice(FIRST[locale]), rng.choice(LAST[locale])
        name = f"{first} {last}"
        age_days = None
        if rng.random() < MINOR_SHARE:
            is_minor = True
            age_days = rng.randrange(13 * 365 + 4, 18 * 365 - 3)
            role = "Intern" if rng.random() < 0.3 else ""
        else:
            role = rng.choice(JOB_TITLES) if rng.random() < 0.75 else ""
            if rng.random() < 0.85:
                age_days = rng.randrange(18 * 365 + 5, 75 * 365)
        if age_days is not None:
            dob = (as_of.date() - timedelta(days=age_days)).isoformat()
        if not role:
            company = ""
        if role and rng.random() < 0.55:
            email = f"{_ascii(first)}.{_ascii(last)}@{domain}"
        else:
            email = f"{_ascii(first)}{_ascii(last)[:1]}{index}@{rng.choice(FREEMAIL[locale])}"
        if rng.random() < 0.12:  # people type their address as they like; lookups must not care
            email = email.capitalize() if rng.random() < 0.5 else f" {email.upper()}"
    batch.add(
        "inventory.DataSubject",
        (public_id, "entity" if is_entity else "person", name, email, normalize_email(email), phone, postal,
         company, role, country, region, dob or "", is_minor, created, created),
    )  # fmt: skip
    batch.add("inventory.DataKey", (pos, master.encrypt(data_key).decode(), created))
    _records(batch, pos, index, rng, lk, created, as_of, email, first, last, company, domain, country,
             city, phone, postal, is_entity)  # fmt: skip


def _activity_events(batch, pos, index, rng, lk, later, country) -> None:
    """Website and email activity: a handful of events per subject, one cookie and device each."""
    src, sysm = lk.sources, lk.systems
    n_events = min(int(rng.expovariate(1 / 2.5)), 12)
    if n_events:
        digest = hashlib.blake2b(f"{index}".encode(), digest_size=8, key=b"demo").hexdigest()
        cookie, device = f"ck_{digest}", f"dev_{rng.getrandbits(48):012x}"
        agent = rng.choice(USER_AGENTS)
        for _ in range(n_events):
            roll = rng.random()
            if roll < 0.55:
                kind, target, source, system = "page_view", rng.choice(PAGES), "cookies", "web-analytics"
            elif roll < 0.65:
                kind, target, source, system = "download", rng.choice(DOWNLOADS), "website", "privacyops"
            elif roll < 0.85:
                kind, target, source, system = (
                    "email_open",
                    rng.choice(EMAILS),
                    "email_analytics",
                    "email-platform",
                )
            elif roll < 0.95:
                kind, target, source, system = "email_click", rng.choice(EMAILS), "pixels", "email-platform"
            else:
                kind, target, source, system = "widget", "chat-widget", "widgets", "privacyops"
            batch.add(
                "inventory.ActivityEvent",
                (pos, src[source], sysm[system], later(), kind, target, _ip(rng), device, cookie, agent,
                 country),
            )  # fmt: skip


def _records(batch, pos, index, rng, lk, created, as_of, email, first, last, company, domain, country,
             city, phone, postal, is_entity) -> None:  # fmt: skip
    src, sysm = lk.sources, lk.systems
    db = sysm["privacyops"]
    span = max(1, int((as_of - created).total_seconds()))

    def later() -> datetime:
        return created + timedelta(seconds=rng.randrange(span))

    # Further contact points (the primary email, phone and address sit on the subject's own row).
    if rng.random() < 0.35:
        alt = f"{_ascii(first or 'contact')}.{index}@{rng.choice(FREEMAIL['us'])}"
        batch.add(
            "inventory.ContactPoint",
            (pos, src["website"], db, later(), "email", alt, normalize_email(alt), False),
        )
    if rng.random() < 0.45:
        other = _pattern(rng, PHONE.get(country, PHONE[""]))
        batch.add("inventory.ContactPoint", (pos, src["phone"], db, later(), "phone", other, "", False))
    if postal and rng.random() < 0.25:
        batch.add("inventory.ContactPoint", (pos, src["mail"], db, later(), "postal", postal, "", True))
    # Customers: a SYSPRO user account, often with a payment method on file (tokenised, sealed).
    if rng.random() < (0.2 if is_entity else 0.45):
        login = later()
        token = f"pm_{rng.getrandbits(96):024x}" if rng.random() < 0.7 else None
        pw = f"pbkdf2_sha256$870000${rng.getrandbits(64):016x}${rng.getrandbits(128):032x}"
        closed = later() if rng.random() < 0.05 else None
        username = f"{_ascii(first)}.{_ascii(last)}{index}" if first else f"admin{index}@{domain}"
        batch.add(
            "inventory.UserAccount",
            (pos, src["website"], db, created, username, pw, token or "",
             rng.choice(PAYMENT_BRANDS) if token else "", login, closed),
        )  # fmt: skip
    if company:
        batch.add(
            "inventory.CompanyAffiliation",
            (pos, src["third_party_list"] if rng.random() < 0.4 else src["website"], db, created, company,
             rng.choice(COMPANY_SIZES), city or "", "" if is_entity else rng.choice(JOB_TITLES),
             rng.choice(["", "low", "medium", "high"])),
        )  # fmt: skip
    if rng.random() < 0.55:
        topics = sorted(rng.sample(TOPICS, rng.randrange(1, 4)))
        channel = rng.choice(["email", "email", "email", "phone", "post"])
        batch.add(
            "inventory.MarketingPreference",
            (pos, src["website"], sysm["email-platform"] if channel == "email" else db, later(), channel,
             topics, rng.choice(FREQUENCIES)),
        )  # fmt: skip
    if rng.random() < 0.25:
        for _ in range(rng.randrange(1, 3)):
            survey, question, answers = rng.choice(SURVEYS)
            answer = rng.choice(answers).format(n=rng.randrange(2, 30))
            batch.add(
                "inventory.SurveyResponse",
                (pos, src["widgets"], db, later(), survey, question, answer),
            )
    _activity_events(batch, pos, index, rng, lk, later, country)


# The column of each demo model that is sealed under the subject's data key.
SEALED = {
    "inventory.DataSubject": "date_of_birth",
    "inventory.UserAccount": "payment_method_reference",
    "inventory.SurveyResponse": "answer",
}


def seal_rows(model, label: str, rows: list[tuple], *, row_ids: list[int], subject_ids: list[int],
              keys: dict[int, "crypto.SubjectKey"]) -> list[tuple]:  # fmt: skip
    """Rows with their id first and the sealed column encrypted, bound to (table, column, id, subject)."""
    at = COLUMNS[label].index(SEALED[label])
    table, column = crypto.field_place(model, SEALED[label])
    sealed = crypto.seal_many(
        [(keys[sid], row[at], rid) for row, rid, sid in zip(rows, row_ids, subject_ids, strict=True)],
        table=table,
        column=column,
    )
    return [
        (rid, *row[:at], text, *row[at + 1 :]) for row, rid, text in zip(rows, row_ids, sealed, strict=True)
    ]


def companies_for(total_subjects: int) -> int:
    """Size of the company pool: about 15 people per company, at least 40 companies."""
    return max(40, total_subjects // 15)


def generate_batch(
    *,
    seed: int,
    start: int,
    count: int,
    as_of: datetime,
    companies: int,
    lookups: Lookups,
    master_keys: tuple[str, ...],
) -> Batch:
    """Rows for subjects start .. start+count-1 (and all their records). Runs in worker processes."""
    master = crypto.master_fernet(master_keys)
    batch = Batch(start=start)
    for pos in range(count):
        _subject(batch, pos, start + pos, seed, as_of, companies, lookups, master)
    return batch
