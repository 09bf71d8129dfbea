"""Vocabularies of the synthetic data generator: what a B2B CRM export looks like.

The fictional vendor sells a revenue-analytics platform (lead scoring, attribution,
forecasting) to mid-market companies; its buyers lead marketing, sales/revenue operations
and data teams. The weights below are the *true* ideal-customer profile of the synthetic
world. The hand-weighted points rules (`default_rules.yaml`) are deliberately written from
a marketing-ops team's beliefs, not from these numbers.
"""

from __future__ import annotations

from features.contract.schema import EventType

# ---------------------------------------------------------------- personas
# Hidden kind of lead. Everything but prospects is a decoy that never buys new business.
PERSONAS = ("prospect", "job_seeker", "student", "competitor", "existing_customer")
PERSONA_P = (0.84, 0.05, 0.04, 0.02, 0.05)

# ---------------------------------------------------------------- firmographics
# (name, share of companies, true ICP weight)
INDUSTRIES = (
    ("Software & SaaS", 0.20, 1.0),
    ("Financial Services", 0.10, 0.7),
    ("Retail & E-commerce", 0.09, 0.6),
    ("Healthcare", 0.08, 0.5),  # an emerging vertical the ops team underrates
    ("Manufacturing", 0.09, 0.1),
    ("Professional Services", 0.10, 0.3),
    ("Media & Entertainment", 0.05, 0.3),
    ("Logistics & Transportation", 0.05, 0.0),
    ("Telecommunications", 0.03, 0.2),
    ("Energy & Utilities", 0.03, -0.3),
    ("Real Estate", 0.04, -0.3),
    ("Education", 0.05, -0.8),
    ("Government", 0.04, -1.0),
    ("Non-profit", 0.05, -1.0),
)
EDUCATION_INDUSTRY = 11
SOFTWARE_INDUSTRY = 0

# Company size bands: (low, high employees, share of companies, true ICP weight,
# median annual contract value in USD)
SIZE_BANDS = (
    (1, 10, 0.22, -1.2, 6_000.0),
    (11, 50, 0.26, -0.3, 12_000.0),
    (51, 200, 0.22, 0.5, 24_000.0),
    (201, 1000, 0.16, 0.8, 48_000.0),
    (1001, 5000, 0.09, 0.5, 90_000.0),
    (5001, 50000, 0.05, 0.0, 150_000.0),
)

# (name, share, UTC offset in hours of business activity, true ICP weight, email tld)
COUNTRIES = (
    ("United States", 0.42, -6.0, 0.2, "com"),
    ("Canada", 0.06, -5.0, 0.2, "ca"),
    ("United Kingdom", 0.10, 0.0, 0.2, "co.uk"),
    ("Germany", 0.07, 1.0, 0.1, "de"),
    ("France", 0.04, 1.0, 0.0, "fr"),
    ("Netherlands", 0.03, 1.0, 0.2, "nl"),
    ("Spain", 0.02, 1.0, -0.1, "es"),
    ("Sweden", 0.02, 1.0, 0.1, "se"),
    ("Ireland", 0.02, 0.0, 0.2, "ie"),
    ("Israel", 0.02, 2.0, 0.1, "co.il"),
    ("Australia", 0.04, 10.0, 0.1, "com.au"),
    ("India", 0.07, 5.5, -0.5, "in"),
    ("Brazil", 0.03, -3.0, -0.4, "com.br"),
    ("Singapore", 0.02, 8.0, 0.0, "sg"),
    ("Japan", 0.02, 9.0, -0.4, "jp"),
    ("Mexico", 0.02, -6.0, -0.3, "mx"),
)

# Revenue per employee (USD, median) by industry index, for annual_revenue.
REVENUE_PER_EMPLOYEE = (
    250_000.0,
    400_000.0,
    220_000.0,
    150_000.0,
    200_000.0,
    160_000.0,
    180_000.0,
    170_000.0,
    300_000.0,
    450_000.0,
    280_000.0,
    90_000.0,
    120_000.0,
    70_000.0,
)

COMPANY_PREFIXES = (
    "acme", "northwind", "bluepeak", "brightline", "cedar", "summit", "ironwood", "silverlake",
    "redwood", "harbor", "pinnacle", "evergreen", "lumen", "vertex", "orbit", "keystone",
    "meridian", "atlas", "crescent", "granite", "horizon", "juniper", "kestrel", "lakeside",
    "maple", "nimbus", "oakridge", "polaris", "quarry", "riverbend", "sable", "tidewater",
    "upland", "vantage", "willow", "zenith", "aurora", "beacon", "cobalt", "delta",
    "ember", "falcon", "glacier", "hudson", "indigo", "jasper", "kinetic", "latitude",
    "monarch", "nova", "onyx", "prairie", "quantum", "rapid", "sterling", "trident",
    "unity", "vector", "westfield", "yellowstone", "alpine", "bayview", "canyon", "driftwood",
    "elm", "fjord", "golden", "highland", "island", "jade", "knoll", "linden", "mesa",
    "northstar", "olympus", "pacific", "quill", "ridgeline", "sequoia", "timber",
)  # fmt: skip
# Second halves of two-word brand names ("bluepeak" + "point" -> "bluepeakpoint").
BRAND_ENDINGS = (
    "point", "field", "stone", "gate", "wave", "line", "path", "crest", "view", "port",
    "wise", "hub", "base", "core", "scale", "sight", "flow", "mark", "spring", "rock",
    "wood", "star", "light", "shore", "bay", "vale", "works", "bridge", "lane", "grove",
)  # fmt: skip
# Domain word by industry (index-aligned with INDUSTRIES).
COMPANY_SUFFIXES = (
    ("soft", "labs", "cloud", "ai", "tech", "systems", "data", "apps"),
    ("capital", "financial", "bank", "pay", "invest", "credit"),
    ("shop", "goods", "market", "store", "brands", "outfitters"),
    ("health", "care", "med", "clinic", "bio"),
    ("industries", "manufacturing", "works", "components", "steel"),
    ("consulting", "partners", "advisors", "group", "legal"),
    ("media", "studios", "publishing", "news"),
    ("logistics", "freight", "shipping", "transport"),
    ("telecom", "networks", "mobile", "wireless"),
    ("energy", "power", "solar", "utilities"),
    ("properties", "realty", "homes"),
    ("learning", "academy", "school"),
    ("county", "city", "agency"),
    ("foundation", "alliance", "trust"),
)
UNIVERSITY_TOWNS = (
    "springfield", "riverside", "lakewood", "fairview", "greenville", "bristol", "clayton",
    "madison", "franklin", "georgetown", "arlington", "salem", "ashland", "dover", "milton",
    "oxford", "burlington", "chester", "kingston", "newport", "hamilton", "lincoln", "marion",
    "auburn", "clinton", "dayton", "eugene", "fremont", "hudsonvalley", "jackson",
)  # fmt: skip

COMPETITOR_DOMAINS = (
    "scorewise.io",
    "funnelforge.com",
    "leadlytics.io",
    "pipelinepilot.com",
    "revscope.ai",
)
FREE_EMAIL_PROVIDERS = ("gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "icloud.com")
FREE_EMAIL_P = (0.55, 0.15, 0.12, 0.12, 0.06)

FIRST_NAMES = (
    "james", "mary", "john", "patricia", "robert", "jennifer", "michael", "linda", "david",
    "elizabeth", "william", "barbara", "richard", "susan", "joseph", "jessica", "thomas", "sarah",
    "daniel", "karen", "matthew", "lisa", "anthony", "nancy", "mark", "sandra", "steven", "ashley",
    "paul", "emily", "andrew", "michelle", "joshua", "amanda", "kevin", "melissa", "brian", "laura",
    "priya", "rahul", "ananya", "arjun", "wei", "li", "mei", "hiroshi", "yuki", "sofia", "lucas",
    "mateo", "camila", "hannah", "lukas", "lena", "jonas", "emma", "louis", "chloe", "oliver",
    "amelia", "noah", "olivia", "liam", "ava", "ethan", "mia", "aisha", "omar", "fatima", "yusuf",
    "ingrid", "lars", "freya", "sven", "chiara", "marco", "giulia", "diego", "valentina", "pedro",
)  # fmt: skip
LAST_NAMES = (
    "smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis", "rodriguez",
    "martinez", "hernandez", "lopez", "gonzalez", "wilson", "anderson", "thomas", "taylor",
    "moore", "jackson", "martin", "lee", "perez", "thompson", "white", "harris", "sanchez",
    "clark", "ramirez", "lewis", "robinson", "walker", "young", "allen", "king", "wright",
    "scott", "green", "baker", "adams", "nelson", "patel", "sharma", "singh", "kumar", "chen",
    "wang", "zhang", "liu", "tanaka", "suzuki", "sato", "muller", "schmidt", "schneider",
    "fischer", "weber", "dubois", "moreau", "laurent", "rossi", "russo", "ferrari", "silva",
    "santos", "oliveira", "costa", "jansen", "devries", "andersson", "johansson", "nielsen",
    "obrien", "murphy", "kelly", "cohen", "levi", "nguyen", "tran", "kim", "park",
)  # fmt: skip

# ---------------------------------------------------------------- people
SENIORITIES = ("c_level", "vp", "director", "manager", "individual_contributor", "student")
DEPARTMENTS = (
    "marketing",
    "sales",
    "data",
    "engineering",
    "it",
    "product",
    "operations",
    "finance",
    "hr",
    "executive",
    "student",
)
SENIORITY_WEIGHT = (0.4, 0.8, 0.8, 0.5, -0.2, -3.0)  # true ICP weight; c_level depends on size
DEPARTMENT_WEIGHT = (0.8, 0.6, 0.6, 0.0, 0.1, 0.2, -0.1, -0.3, -0.8, 0.4, -3.0)

# Department shares of non-executive roles, by persona (DEPARTMENTS order, without the last two).
DEPT_P = {
    "prospect": (0.30, 0.15, 0.10, 0.12, 0.10, 0.06, 0.07, 0.05, 0.05),
    "job_seeker": (0.20, 0.15, 0.15, 0.28, 0.05, 0.10, 0.04, 0.01, 0.02),
    "competitor": (0.50, 0.20, 0.05, 0.00, 0.00, 0.25, 0.00, 0.00, 0.00),
    "existing_customer": (0.25, 0.15, 0.25, 0.15, 0.15, 0.05, 0.00, 0.00, 0.00),
}
# Department of C-level people (DEPARTMENTS order, without "student").
C_LEVEL_DEPT_P = (0.12, 0.08, 0.04, 0.10, 0.06, 0.03, 0.05, 0.05, 0.02, 0.45)
# Seniority shares (SENIORITIES order, without "student") by persona; prospects at small
# companies are more often founders.
SENIORITY_P = {
    "prospect_small": (0.22, 0.06, 0.12, 0.22, 0.38),
    "prospect": (0.03, 0.08, 0.16, 0.27, 0.46),
    "job_seeker": (0.00, 0.00, 0.05, 0.25, 0.70),
    "competitor": (0.00, 0.10, 0.20, 0.40, 0.30),
    "existing_customer": (0.00, 0.10, 0.15, 0.30, 0.45),
}

_AREA = {
    "marketing": (
        "Marketing",
        "Demand Generation",
        "Growth",
        "Digital Marketing",
        "Product Marketing",
    ),
    "sales": ("Sales", "Revenue Operations", "Business Development", "Sales Operations"),
    "data": ("Data & Analytics", "Analytics", "Business Intelligence", "Data"),
    "engineering": ("Engineering", "Software Engineering", "Platform Engineering"),
    "it": ("IT", "Information Technology", "IT Infrastructure", "Security"),
    "product": ("Product", "Product Management", "UX"),
    "operations": ("Operations", "Supply Chain", "Business Operations"),
    "finance": ("Finance", "Accounting", "Procurement"),
    "hr": ("People", "Human Resources", "Talent"),
}
_C_LEVEL_TITLES = {
    "marketing": ("CMO", "Chief Marketing Officer", "Chief Growth Officer"),
    "sales": ("CRO", "Chief Revenue Officer", "Chief Sales Officer"),
    "data": ("Chief Data Officer", "CDO", "Chief Analytics Officer"),
    "engineering": ("CTO", "Chief Technology Officer", "Co-Founder & CTO"),
    "it": ("CIO", "Chief Information Officer", "CISO"),
    "product": ("Chief Product Officer", "CPO"),
    "operations": ("COO", "Chief Operating Officer"),
    "finance": ("CFO", "Chief Financial Officer"),
    "hr": ("Chief People Officer", "CHRO"),
    "executive": (
        "CEO",
        "Chief Executive Officer",
        "CEO & Co-Founder",
        "Founder",
        "Co-Founder & CEO",
        "Owner",
        "President",
        "Managing Director",
        "Founder/CEO",
    ),
}
_IC_TITLES = {
    "marketing": (
        "Marketing Specialist",
        "Marketing Coordinator",
        "Content Writer",
        "SEO Specialist",
        "Digital Marketing Specialist",
        "Marketing Associate",
        "Growth Marketer",
        "Marketing Ops Specialist",
    ),
    "sales": (
        "Account Executive",
        "Sr. Account Executive",
        "SDR",
        "Business Development Representative",
        "Sales Rep",
        "Revenue Operations Analyst",
    ),
    "data": ("Data Analyst", "Data Scientist", "BI Analyst", "Analytics Engineer", "Data Engineer"),
    "engineering": (
        "Software Engineer",
        "Sr. Software Engineer",
        "Senior Software Engineer",
        "Full Stack Developer",
        "DevOps Engineer",
        "Staff Engineer",
        "Solutions Architect",
        "Developer",
    ),
    "it": ("Systems Administrator", "IT Specialist", "Network Engineer", "Security Analyst"),
    "product": ("UX Designer", "Product Designer", "Product Analyst", "Product Owner"),
    "operations": ("Operations Analyst", "Operations Coordinator", "Logistics Coordinator"),
    "finance": ("Financial Analyst", "Accountant", "Procurement Specialist"),
    "hr": ("Recruiter", "HR Coordinator", "Talent Acquisition Specialist", "HR Generalist"),
}
_STUDENT_TITLES = (
    "Student",
    "student",
    "MBA Candidate",
    "Graduate Student",
    "PhD Candidate",
    "Marketing Intern",
    "Software Engineering Intern",
    "Research Assistant",
    "Undergraduate Student",
    "MSc Student, Data Science",
    "Intern",
)
# What people type when a form insists on a job title.
JUNK_TITLES = ("-", "n/a", "Other", "Self-employed", "Consultant", "Freelancer", "x", "Team Member")


def _titles_for(seniority: str, department: str) -> tuple[str, ...]:
    """Free-text job titles for a (seniority, department) pair, with common variants."""
    if seniority == "student":
        return _STUDENT_TITLES
    if seniority == "c_level":
        return _C_LEVEL_TITLES[department]
    if seniority == "individual_contributor":
        return _IC_TITLES[department]
    patterns = {
        "vp": ("VP {}", "VP of {}", "Vice President, {}", "SVP {}", "VP, {}"),
        "director": ("Director of {}", "{} Director", "Head of {}", "Sr. Director, {}", "Dir. {}"),
        "manager": ("{} Manager", "Sr. {} Manager", "Manager, {}", "{} Lead", "{} Mgr"),
    }[seniority]
    return tuple(p.format(area) for area in _AREA[department] for p in patterns)


def title_table() -> tuple[tuple[str, ...], list[tuple[int, int]]]:
    """All titles, and (start, count) per (seniority, department) pair in row-major order."""
    titles: list[str] = []
    ranges: list[tuple[int, int]] = []
    for seniority in SENIORITIES:
        for department in DEPARTMENTS:
            valid = (seniority == "student") == (department == "student") and (
                department != "executive" or seniority == "c_level"
            )
            options = _titles_for(seniority, department) if valid else ()
            ranges.append((len(titles), len(options)))
            titles.extend(options)
    return tuple(titles), ranges


# ---------------------------------------------------------------- acquisition
# (lead source, share among prospects, engagement multiplier, buying-window multiplier,
#  share of buying windows already open when the lead is created)
LEAD_SOURCES = (
    ("Organic Search", 0.24, 1.1, 1.0, 0.45),
    ("Paid Search", 0.15, 0.9, 1.0, 0.50),
    ("Webinar", 0.11, 1.3, 0.9, 0.20),
    ("Content Syndication", 0.14, 0.5, 0.5, 0.10),
    ("Event", 0.08, 0.8, 0.9, 0.30),
    ("Referral", 0.06, 1.0, 1.4, 0.55),
    ("Outbound", 0.12, 0.4, 0.8, 0.15),
    ("Partner", 0.04, 1.0, 1.2, 0.40),
    ("Social Media", 0.06, 0.8, 0.8, 0.20),
)
# Lead-source shares of decoy personas (LEAD_SOURCES order).
DECOY_SOURCE_P = {
    "job_seeker": (0.55, 0.0, 0.0, 0.0, 0.10, 0.10, 0.0, 0.0, 0.25),
    "student": (0.50, 0.0, 0.20, 0.15, 0.0, 0.0, 0.0, 0.0, 0.15),
    "competitor": (0.40, 0.10, 0.30, 0.10, 0.10, 0.0, 0.0, 0.0, 0.0),
    "existing_customer": (0.30, 0.0, 0.25, 0.0, 0.15, 0.10, 0.0, 0.20, 0.0),
}
# Campaign names per lead source (None: no campaign), prefixed with the creation quarter.
SOURCE_CAMPAIGNS = (
    (None,),
    ("Google Ads - Lead Scoring", "Google Ads - Brand", "Bing Ads - Competitor Terms"),
    (
        "Webinar: Beyond MQLs",
        "Webinar: Pipeline Forecasting 101",
        "Webinar: Attribution Sales Trusts",
    ),
    ("Syndication - State of B2B Marketing", "Syndication - RevOps Playbook"),
    ("Trade Show - B2B Marketing Expo", "Field Event - RevOps Summit", "Roadshow - City Tour"),
    ("Customer Referral Program",),
    ("SDR Outbound - Mid-Market", "SDR Outbound - Enterprise"),
    ("Partner - Agency Referrals", "Partner - Integration Marketplace"),
    ("LinkedIn Lead Gen Forms", None),
)

# ---------------------------------------------------------------- journeys
BLOG_SLUGS = (
    "what-is-lead-scoring", "mql-vs-sql", "predictive-lead-scoring-explained",
    "b2b-attribution-models",
    "pipeline-forecasting-mistakes", "revops-metrics-that-matter", "lead-scoring-template",
    "how-to-align-sales-and-marketing", "intent-data-101", "account-based-marketing-guide",
    "marketing-qualified-leads-are-dead", "hubspot-vs-salesforce-reporting",
    "customer-journey-analytics",
    "multi-touch-attribution", "demand-gen-benchmarks-2024", "why-reps-ignore-lead-scores",
    "data-quality-in-crm", "win-rate-analysis", "sales-cycle-length-by-industry", "plg-vs-slg",
    "churn-signals", "buying-committee", "first-party-data", "cookie-less-tracking",
    "webinar-promotion-checklist", "content-syndication-roi", "lead-routing-best-practices",
    "speed-to-lead", "bant-vs-meddic", "scoring-model-decay",
)  # fmt: skip
PAGES_BY_EVENT: dict[EventType, tuple[str, ...]] = {
    EventType.PRICING_PAGE_VIEW: ("/pricing", "/pricing/enterprise", "/pricing/compare"),
    EventType.PRODUCT_PAGE_VIEW: (
        "/product",
        "/product/lead-scoring",
        "/product/attribution",
        "/product/forecasting",
        "/integrations",
        "/integrations/salesforce",
        "/integrations/hubspot",
        "/customers",
        "/customers/acme-logistics",
        "/security",
    ),
    EventType.DOCS_PAGE_VIEW: (
        "/docs",
        "/docs/getting-started",
        "/docs/api",
        "/docs/integrations/salesforce",
        "/docs/scoring-models",
        "/docs/sso",
        "/docs/release-notes",
    ),
    EventType.BLOG_PAGE_VIEW: tuple(f"/blog/{slug}" for slug in BLOG_SLUGS),
    EventType.CAREERS_PAGE_VIEW: (
        "/careers",
        "/careers/senior-backend-engineer",
        "/careers/account-executive",
        "/careers/data-scientist",
        "/careers/product-marketing-manager",
        "/careers/internships",
    ),
    EventType.OTHER_PAGE_VIEW: (
        "/",
        "/about",
        "/partners",
        "/events",
        "/contact",
        "/legal/privacy",
    ),
    EventType.CONTENT_DOWNLOAD: (
        "/resources/lead-scoring-playbook",
        "/resources/state-of-b2b-marketing-report",
        "/resources/revops-playbook",
        "/resources/roi-calculator",
        "/resources/case-study-bluepeak",
        "/resources/attribution-ebook",
    ),
    EventType.WEBINAR_REGISTRATION: (
        "/webinars/beyond-mqls",
        "/webinars/pipeline-forecasting-101",
        "/webinars/attribution-sales-trusts",
        "/webinars/product-tour",
        "/webinars/customer-roundtable",
    ),
    EventType.WEBINAR_ATTENDANCE: (),
    EventType.NEWSLETTER_SIGNUP: ("/newsletter",),
    EventType.EMAIL_OPEN: (),
    EventType.EMAIL_CLICK: tuple(f"/blog/{slug}" for slug in BLOG_SLUGS[:10]),
    EventType.FORM_FILL: ("/contact", "/resources/lead-scoring-playbook", "/events/register"),
    EventType.FREE_TRIAL_SIGNUP: ("/signup",),
    EventType.DEMO_REQUEST: ("/demo",),
    EventType.CONTACT_SALES: ("/contact-sales",),
    EventType.CHAT_CONVERSATION: ("/pricing", "/product", "/docs"),
    EventType.UNSUBSCRIBE: ("/email-preferences",),
    EventType.EMAIL_BOUNCE: (),
    EventType.OTHER: (),
}
WEBINAR_TITLES = (
    "Webinar: Beyond MQLs",
    "Webinar: Pipeline Forecasting 101",
    "Webinar: Attribution Sales Trusts",
    "Webinar: Product Tour",
    "Webinar: Customer Roundtable",
)
NURTURE_TRACKS = (
    "Nurture - Lead Scoring Track",
    "Nurture - RevOps Track",
    "Nurture - Trial Onboarding",
)
CHANNELS = ("organic", "direct", "paid_search", "email", "social", "referral", "webinar", "web")
# Where web sessions come from (CHANNELS order, first six).
SESSION_CHANNEL_P = (0.36, 0.24, 0.12, 0.10, 0.08, 0.10)

# Index maps for the vectorised generator.
PROSPECT, JOB_SEEKER, STUDENT, COMPETITOR, CUSTOMER = range(len(PERSONAS))
SOURCE_INDEX = {source[0]: k for k, source in enumerate(LEAD_SOURCES)}
CHANNEL_INDEX = {name: k for k, name in enumerate(CHANNELS)}
DEPARTMENT_INDEX = {name: k for k, name in enumerate(DEPARTMENTS)}
