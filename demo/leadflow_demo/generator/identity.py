"""Who the leads are: personas and their hidden propensity, companies and domains, names, titles and e-mail
addresses (and how systems mangle them), and ``_Lead``, everything decided about one person.
"""

from __future__ import annotations

import random
import unicodedata
from itertools import accumulate

from leadflow_demo.generator.clock import DAY
from leadflow_demo.generator.core import Core, _between

PERSONAS = ("champion", "evaluator", "prospect", "shallow_signup", "tire_kicker", "student", "competitor", "customer")


PERSONA_WEIGHTS = (7, 13, 35, 13, 14, 8, 2, 8)


# Beta(a, b) of the hidden propensity per persona, before the fit multiplier.
PROPENSITY_BETA = {
    "champion": (6.0, 2.5),
    "evaluator": (4.0, 3.0),
    "prospect": (2.0, 5.0),
    "shallow_signup": (1.2, 12.0),
    "tire_kicker": (1.5, 12.0),
    "student": (1.0, 25.0),
    "competitor": (1.0, 60.0),
    "customer": (2.0, 6.0),
}


FREE_MAIL = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "proton.me")


FREE_MAIL_WEIGHTS = (45, 12, 15, 10, 12, 6)


FREE_MAIL_SHARE = {
    "champion": 0.06,
    "evaluator": 0.14,
    "prospect": 0.22,
    "shallow_signup": 0.45,
    "tire_kicker": 0.40,
    "student": 0.70,
    "competitor": 0.0,
    "customer": 0.0,
}


EDU_DOMAINS = (
    ("Stanford University", "stanford.edu", "US"),
    ("MIT", "mit.edu", "US"),
    ("University of Oxford", "ox.ac.uk", "GB"),
    ("TU Munich", "tum.de", "DE"),
    ("University of Washington", "uw.edu", "US"),
    ("NYU", "nyu.edu", "US"),
    ("UCL", "ucl.ac.uk", "GB"),
    ("University of Toronto", "utoronto.ca", "CA"),
    ("University of Melbourne", "unimelb.edu.au", "AU"),
    ("EPFL", "epfl.ch", "CH"),
)


COMPETITORS = (
    ("ScoreHub", "scorehub.io", "US"),
    ("Qualifyr", "qualifyr.com", "GB"),
    ("LeadLens", "leadlens.ai", "US"),
    ("Funnelwise", "funnelwise.com", "DE"),
    ("PipeRank", "piperank.io", "US"),
)


ICP_INDUSTRIES = ("software", "fintech", "healthcare", "ecommerce")


INDUSTRIES = (*ICP_INDUSTRIES, "education", "government", "manufacturing", "retail", "nonprofit", "media", "agency")


INDUSTRY_WEIGHTS = (22, 10, 9, 10, 5, 3, 9, 7, 4, 6, 8)


INDUSTRY_SUFFIX = {
    "software": ("Labs", "Cloud", "Software", "AI", "Systems", ""),
    "fintech": ("Pay", "Capital", "Ledger", "Finance", "Money"),
    "healthcare": ("Health", "Care", "Medical", "Bio", "Clinics"),
    "ecommerce": ("Shop", "Commerce", "Market", "Goods", "Store"),
    "education": ("Academy", "Learning", "Education"),
    "government": ("Agency", "Council", "Authority"),
    "manufacturing": ("Industries", "Manufacturing", "Works", "Tools"),
    "retail": ("Retail", "Outlet", "Stores"),
    "nonprofit": ("Foundation", "Trust", "Alliance"),
    "media": ("Media", "Studios", "News"),
    "agency": ("Agency", "Partners", "Digital", "Creative"),
}


NAME_A = (
    "Bright", "Blue", "Clear", "North", "Quant", "Nova", "Peak", "Swift", "Iron", "Silver", "Green", "Red",
    "Lumen", "Vector", "Pixel", "Harbor", "Summit", "Cedar", "Atlas", "Orbit", "Flux", "Prism", "Vertex",
    "Echo", "Apex", "Zen", "Core", "True", "Open", "Deep", "Bold", "Kite", "Maple", "Onyx", "Polar", "Sage",
)  # fmt: skip


NAME_B = (
    "path", "stack", "loop", "wave", "forge", "line", "grid", "field", "point", "works", "bit", "leaf",
    "stone", "bridge", "scale", "sight", "spark", "flow", "nest", "mint", "hub", "base", "gate", "way",
    "ly", "io", "ify", "mark", "ware", "sync", "rise", "craft", "lane", "dock", "shift", "beam",
)  # fmt: skip


ICP_COUNTRIES = ("US", "GB", "CA", "DE", "FR", "NL", "SE", "AU", "IE")


COUNTRIES = (*ICP_COUNTRIES, "IN", "BR", "MX", "NG", "ZA", "PL", "ES", "IT", "JP", "SG")


COUNTRY_WEIGHTS = (30, 10, 5, 8, 5, 3, 2, 3, 1, 8, 5, 2, 2, 2, 3, 3, 3, 2, 2)


TLDS = {
    "US": ("com", "io", "co", "ai"),
    "GB": ("co.uk", "com"),
    "CA": ("ca", "com"),
    "DE": ("de", "com"),
    "FR": ("fr",),
    "NL": ("nl",),
    "SE": ("se",),
    "AU": ("com.au",),
    "IE": ("ie",),
    "IN": ("in", "co.in"),
    "BR": ("com.br",),
    "MX": ("com.mx",),
    "NG": ("ng",),
    "ZA": ("co.za",),
    "PL": ("pl",),
    "ES": ("es",),
    "IT": ("it",),
    "JP": ("jp", "co.jp"),
    "SG": ("sg", "com"),
}


# (low, high, weight) employee bands; 51-1000 is the ideal customer profile.
EMPLOYEE_BANDS = ((1, 10, 20), (11, 50, 28), (51, 200, 25), (201, 1000, 17), (1001, 5000, 7), (5001, 50000, 3))


SENIORITIES = ("exec", "head", "director", "manager", "ic", "junior")


TITLES = {
    "exec": ("CEO", "Founder", "VP of Sales", "VP Marketing", "Chief Revenue Officer", "VP Revenue Operations"),
    "head": ("Head of Growth", "Head of Sales", "Head of RevOps", "Head of Demand Generation", "Head of Marketing"),
    "director": ("Director of Sales", "Director of Marketing Operations", "Sales Director", "Director, Growth"),
    "manager": ("Sales Manager", "Marketing Manager", "RevOps Manager", "Growth Manager", "Sr. Demand Gen Manager"),
    "ic": ("Account Executive", "Sales Development Representative", "Marketing Specialist", "Data Engineer", "Software Engineer", "Analyst",
           "Marketing Coordinator", "Consultant"),
    "junior": ("Student", "Intern", "Marketing Intern", "Graduate Student"),
}  # fmt: skip


SENIORITY_FIT = {"exec": 1.0, "head": 1.0, "director": 0.9, "manager": 0.6, "ic": 0.3, "junior": 0.0}


PERSONA_SENIORITY = {
    "champion": (25, 25, 25, 20, 5, 0),
    "evaluator": (5, 10, 20, 35, 30, 0),
    "prospect": (8, 8, 15, 30, 37, 2),
    "shallow_signup": (3, 3, 7, 22, 55, 10),
    "tire_kicker": (3, 5, 10, 32, 45, 5),
    "student": (0, 0, 0, 0, 10, 90),
    "competitor": (5, 10, 20, 30, 35, 0),
    "customer": (10, 10, 20, 30, 30, 0),
}


FIRST_NAMES = (
    "Jane", "John", "Maria", "Wei", "Aisha", "Carlos", "Emma", "Liam", "Olivia", "Noah", "Sofia", "Lucas",
    "Mia", "Ethan", "Amara", "Kenji", "Priya", "Arjun", "Fatima", "Omar", "Lena", "Jonas", "Chloé", "Mateo",
    "Isabella", "Hugo", "Zoe", "Ravi", "Ana", "Diego", "Sara", "David", "Nina", "Tom", "Elif", "Mehmet",
    "Yuki", "Hana", "Grace", "Daniel", "Ingrid", "Lars", "Freya", "Oscar", "Chen", "Mei", "Tariq", "Leila",
    "Samuel", "Ruth", "Pedro", "Lucía", "Björn", "Astrid", "Kwame", "Ngozi", "Ivan", "Olga", "Marek", "Zofia",
    "Paul", "Claire", "Henry", "Alice", "Jack", "Emily", "Max", "Laura", "Ben", "Julia", "Sam", "Kate",
)  # fmt: skip


LAST_NAMES = (
    "Doe", "Smith", "Garcia", "Zhang", "Khan", "Rossi", "Müller", "Schmidt", "Dubois", "Martin", "Silva",
    "Santos", "Kim", "Lee", "Park", "Nguyen", "Patel", "Sharma", "Singh", "Ali", "Hassan", "Cohen", "Levi",
    "Johansson", "Andersson", "Nielsen", "Jensen", "O'Brien", "Murphy", "Kelly", "Brown", "Wilson", "Taylor",
    "Anderson", "Thomas", "Moore", "Jackson", "White", "Harris", "Clark", "Lewis", "Walker", "Young", "Allen",
    "Wright", "Scott", "Green", "Baker", "Adams", "Nelson", "Hill", "Campbell", "Mitchell", "Roberts", "Carter",
    "Phillips", "Evans", "Turner", "Torres", "Parker", "Collins", "Edwards", "Stewart", "Morris", "Murray",
    "Okafor", "Mensah", "Novak", "Kowalski", "Ivanova", "Tanaka", "Sato", "Suzuki", "Yamamoto", "Fernández",
    "López", "Gómez", "Díaz", "Herrera", "Castro", "Weber", "Wagner", "Becker", "Hoffmann", "Fischer",
)  # fmt: skip


# Cumulative weights for random.choices (passing plain weights re-accumulates them on every call).
_CUM = {
    values: list(accumulate(weights))
    for values, weights in (
        (INDUSTRIES, INDUSTRY_WEIGHTS),
        (COUNTRIES, COUNTRY_WEIGHTS),
        (PERSONAS, PERSONA_WEIGHTS),
        (FREE_MAIL, FREE_MAIL_WEIGHTS),
    )
}


def _ascii(s: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", s).lower() if c.isascii() and c.isalnum())


def _title_case_email(email: str) -> str:
    local, _, domain = email.partition("@")
    return ".".join(p.capitalize() for p in local.split(".")) + "@" + domain.capitalize()


def _messy(email: str, r: random.Random) -> str:
    """How a system stored the address: usually as is, sometimes re-cased or padded with whitespace."""
    x = r.random()
    if x < 0.90:
        return email
    if x < 0.95:
        return _title_case_email(email)
    if x < 0.98:
        return f" {_title_case_email(email)} "
    return email.upper()


class _Company:
    __slots__ = ("name", "domain", "industry", "employees", "revenue", "country", "is_customer", "account_id",
                 "pattern", "updated_at", "created_at")  # fmt: skip

    def __init__(self, name: str, domain: str, industry: str, employees: int, country: str) -> None:
        self.name, self.domain, self.industry, self.employees, self.country = name, domain, industry, employees, country
        self.revenue = 0
        self.is_customer = False
        self.account_id: str | None = None
        self.pattern = 0
        self.updated_at = 0
        self.created_at = 0


class _Lead:
    """Everything decided about one person before its records are written."""

    def __init__(self) -> None:
        self.hot_hits: list[str] = []
        self.recent_pricing = 0
        self.user_id: str | None = None
        self.workspace_id: str | None = None
        self.signup = 0
        self.product_events: list[tuple[int, str, dict]] = []
        self.activated = False
        self.pql_t: int | None = None
        self.actions: list[tuple[int, str]] = []
        self.quiz: dict | None = None
        self.convs: list[dict] = []
        self.meaningful_conv_t: int | None = None
        self.opp: dict | None = None
        self.won_at: int | None = None
        self.checkout_abandon_t: int | None = None


class Identity(Core):
    """Companies (built once, from the global generator) and each lead's e-mail address."""

    def _build_companies(self, r: random.Random) -> None:
        used = set(FREE_MAIL) | {d for _, d, _ in EDU_DOMAINS} | {d for _, d, _ in COMPETITORS}
        n_companies = max(12, int(self.n * 0.75 / 2.4))
        self.companies: list[_Company] = []
        for _ in range(n_companies):
            industry = r.choices(INDUSTRIES, cum_weights=_CUM[INDUSTRIES])[0]
            country = r.choices(COUNTRIES, cum_weights=_CUM[COUNTRIES])[0]
            core = r.choice(NAME_A) + r.choice(NAME_B)
            suffix = r.choice(INDUSTRY_SUFFIX[industry])
            name = f"{core} {suffix}".strip() if suffix else core
            tld = r.choice(TLDS[country])
            base = core.lower()
            domain = f"{base}.{tld}"
            tries = 0
            while domain in used:  # real companies dodge taken domains the same way
                tries += 1
                variant = r.choice(("get", "try", "use", "hq", "app", "labs"))
                stem = f"{variant}{base}" if variant in ("get", "try", "use") else f"{base}{variant}"
                domain = f"{stem}{tries if tries > 3 else ''}.{tld}"
            used.add(domain)
            lo, hi, _ = r.choices(EMPLOYEE_BANDS, [w for _, _, w in EMPLOYEE_BANDS])[0]
            c = _Company(name, domain, industry, _between(r, lo, hi + 1), country)
            c.revenue = round(c.employees * r.uniform(60_000, 300_000), -3)
            c.pattern = r.randrange(4)
            c.is_customer = r.random() < 0.06
            if c.is_customer or r.random() < 0.85:
                c.account_id = self._id("A", 6)
                c.updated_at = _between(r, self.start, self.T)
                c.created_at = c.updated_at - _between(r, 0, 400 * DAY)
            self.companies.append(c)
        self.prospect_companies = [c for c in self.companies if not c.is_customer]
        self.customer_companies = [c for c in self.companies if c.is_customer] or self.companies[:1]
        # Zipf-ish: a few companies hold many leads, most hold one or two.
        self.prospect_cum = list(accumulate(1.0 / (k + 1) ** 0.7 for k in range(len(self.prospect_companies))))

    def _email(self, r: random.Random, L: _Lead) -> str:
        f, la = _ascii(L.first), _ascii(L.last)
        if L.company is not None:
            local = (f"{f}.{la}", f"{f[0]}{la}", f, f"{f}{la[0]}")[L.company.pattern]
        elif L.free_mail:
            local = r.choice(
                (f"{f}.{la}", f"{f}{la}", f"{f}.{la}{_between(r, 1, 99)}", f"{f[0]}{la}{_between(r, 70, 2005)}")
            )
        else:
            local = f"{f}.{la}"
        email = f"{local}@{L.domain}"
        n = self.used_emails.get(email)
        if n is not None:  # a taken address gets a number, like a second "jane.doe" at a company
            while True:
                n += 1
                candidate = f"{local}{n}@{L.domain}"
                if candidate not in self.used_emails:
                    break
            self.used_emails[email] = n
            email = candidate
        self.used_emails[email] = 1
        return email
