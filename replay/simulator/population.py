"""The simulated organisation: sites, teams, users and repositories, drawn once from the seed.

Everything that differs between people (timezone, region, model habits, how much they use the
assistant, which repositories they work in) is fixed here, so that daily traffic only has to
draw what happens on a given day.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field, replace

from replay.simulator.shape import Habits, OrgShape, habits_of
from replay.simulator.universe import HAIKU, OPUS, SONNET

# (site, UTC offset in hours in November, home Bedrock region, share of teams)
SITES = (
    ("nyc", -5, "us-east-1", 0.45),
    ("sfo", -8, "us-west-2", 0.30),
    ("dublin", 0, "eu-west-1", 0.15),
    ("berlin", 1, "eu-west-1", 0.10),
)
# `--zones global`: eight sites from UTC-8 to UTC+11 (and a half-hour offset). Their Bedrock
# regions stay within the default allow-list, as such an organisation would configure it.
GLOBAL_SITES = (
    ("sfo", -8, "us-west-2", 0.14),
    ("nyc", -5, "us-east-1", 0.14),
    ("sao-paulo", -3, "us-east-1", 0.10),
    ("dublin", 0, "eu-west-1", 0.12),
    ("berlin", 1, "eu-west-1", 0.10),
    ("bangalore", 5.5, "eu-west-1", 0.16),
    ("tokyo", 9, "us-west-2", 0.12),
    ("sydney", 11, "us-west-2", 0.12),
)
# ... and teams whose working day starts earlier or later than nine (hours, local).
GLOBAL_DAY_SHIFTS = (-1.5, 0.0, 0.0, 1.0, 2.5)

# (team, department, languages its repositories are written in)
TEAMS = (
    ("payments", "engineering", ("java", "go")),
    ("checkout", "engineering", ("typescript", "java")),
    ("billing", "engineering", ("java", "python")),
    ("identity", "engineering", ("go",)),
    ("search", "engineering", ("java", "python")),
    ("recommendations", "data", ("python",)),
    ("mobile-ios", "product-engineering", ("swift",)),
    ("mobile-android", "product-engineering", ("kotlin",)),
    ("web-platform", "product-engineering", ("typescript",)),
    ("design-system", "product-engineering", ("typescript",)),
    ("data-platform", "data", ("python", "terraform")),
    ("ml-platform", "data", ("python",)),
    ("analytics", "data", ("python",)),
    ("infra", "platform", ("terraform", "go")),
    ("sre", "platform", ("go", "terraform")),
    ("security", "security", ("python", "go")),
    ("devex", "platform", ("typescript", "go")),
    ("api-gateway", "platform", ("go",)),
    ("notifications", "engineering", ("typescript",)),
    ("messaging", "engineering", ("java",)),
    ("storage", "platform", ("go",)),
    ("observability", "platform", ("go", "python")),
    ("growth", "product-engineering", ("typescript", "python")),
    ("onboarding", "product-engineering", ("typescript",)),
    ("fraud", "security", ("python", "java")),
    ("ledger", "engineering", ("java",)),
    ("pricing", "engineering", ("python",)),
    ("catalog", "engineering", ("typescript", "go")),
    ("inventory", "engineering", ("java",)),
    ("logistics", "engineering", ("python", "java")),
    ("support-tools", "product-engineering", ("typescript",)),
    ("internal-tools", "platform", ("python", "typescript")),
    ("compliance", "security", ("python",)),
    ("edge", "platform", ("go",)),
    ("networking", "platform", ("go", "terraform")),
    ("databases", "platform", ("go", "terraform")),
    ("ci-cd", "platform", ("go", "typescript")),
    ("partner-api", "engineering", ("java", "typescript")),
    ("marketplace", "product-engineering", ("typescript",)),
    ("docs", "product-engineering", ("typescript",)),
)

REPO_SUFFIXES = {
    "java": ("service", "core", "batch"),
    "go": ("api", "worker", "cli"),
    "python": ("jobs", "pipeline", "lib"),
    "typescript": ("web", "ui", "bff"),
    "terraform": ("infra", "modules"),
    "swift": ("app", "kit"),
    "kotlin": ("app", "sdk"),
}
SHARED_REPOS = (
    ("acme/platform-config", "terraform"),
    ("acme/shared-protos", "go"),
    ("acme/ci-templates", "typescript"),
    ("acme/developer-portal", "typescript"),
)
# Workflows and how often people run them.
WORKFLOWS = (
    ("feature", 0.34),
    ("bugfix", 0.26),
    ("refactor", 0.12),
    ("code-review", 0.10),
    ("test-writing", 0.08),
    ("docs", 0.05),
    ("migration", 0.03),
    ("incident-response", 0.02),
)
FIRST_NAMES = [
    "alice",
    "bob",
    "carol",
    "dave",
    "erin",
    "frank",
    "grace",
    "heidi",
    "ivan",
    "judy",
    "mallory",
    "niaj",
    "olivia",
    "peggy",
    "rupert",
    "sybil",
    "trent",
    "victor",
    "walter",
    "yasmin",
    "zoe",
    "aaron",
    "bianca",
    "chen",
    "diego",
    "elena",
    "farah",
    "gustavo",
    "hana",
    "ibrahim",
    "jonas",
    "keiko",
    "liam",
    "maria",
    "nikhil",
    "oscar",
    "priya",
    "quentin",
    "rosa",
    "samir",
    "tomas",
    "uma",
    "vera",
    "wei",
    "ximena",
    "yusuf",
    "zara",
    "amara",
    "bruno",
    "chloe",
    "dmitri",
    "esther",
    "fatima",
    "goran",
    "hugo",
    "ines",
    "jamal",
]
LAST_NAMES = [
    "nguyen",
    "smith",
    "garcia",
    "mueller",
    "rossi",
    "kowalski",
    "tanaka",
    "okafor",
    "silva",
    "johansson",
    "dubois",
    "kim",
    "patel",
    "cohen",
    "obrien",
    "novak",
    "lopez",
    "haddad",
    "schmidt",
    "ivanova",
    "murphy",
    "chen",
    "singh",
    "wright",
    "moreau",
    "fischer",
    "costa",
    "larsen",
    "yamamoto",
    "hughes",
    "bauer",
    "ali",
    "santos",
    "weber",
    "romano",
    "khan",
    "walsh",
    "ortiz",
    "lindqvist",
    "kaur",
    "meyer",
    "nakamura",
    "brennan",
    "petrov",
    "jansen",
    "ferreira",
    "abe",
    "castillo",
    "dahl",
    "vogel",
]


@dataclass(frozen=True)
class Repo:
    name: str
    language: str
    base_branch: str


@dataclass(frozen=True)
class Team:
    name: str
    department: str
    site: str
    utc_offset_h: float  # minus the team's shift: a team starting at 11 is a zone two hours west
    region: str
    repos: tuple[Repo, ...]

    @property
    def utc_offset_s(self) -> int:
        return round(self.utc_offset_h * 3600)


@dataclass(frozen=True)
class User:
    index: int
    email: str
    team: Team
    region: str
    models: tuple[tuple[str, float], ...]  # (model, share of this user's invocations)
    sessions_per_day: float
    repos: tuple[Repo, ...]
    account_uuid: str
    device_id: str
    host: str
    os_type: str
    habits: Habits = field(default_factory=Habits)

    @property
    def utc_offset_s(self) -> int:
        return self.team.utc_offset_s


@dataclass(frozen=True)
class Organisation:
    teams: tuple[Team, ...]
    users: tuple[User, ...]
    organization_id: str
    all_repos: tuple[Repo, ...]

    def members(self, team: Team) -> list[User]:
        return [u for u in self.users if u.team is team]


def build_organisation(seed: int, n_users: int, shape: OrgShape | None = None) -> Organisation:
    """Teams sized like real ones (a few large, many small), users spread over four sites
    (or, with `shape.zones == "global"`, eight, with shifted working days)."""
    shape = shape or OrgShape()
    rng = random.Random(f"{seed}:organisation")
    n_teams = max(1, min(n_users // 4, max(4, round(n_users / 16))))
    sites = GLOBAL_SITES if shape.zones == "global" else SITES
    teams = tuple(_build_team(rng, i, sites) for i in range(n_teams))
    if shape.zones == "global":
        teams = tuple(
            _shifted(team, random.Random(f"{seed}:shift:{i}")) for i, team in enumerate(teams)
        )
    shared = tuple(Repo(name, lang, "main") for name, lang in SHARED_REPOS)
    sizes = _team_sizes(rng, n_users, n_teams)
    users: list[User] = []
    emails: set[str] = set()
    for team, size in zip(teams, sizes, strict=True):
        for _ in range(size):
            user = _build_user(rng, len(users), team, shared, emails)
            habits = habits_of(shape, seed, user.index)
            users.append(user if habits == user.habits else replace(user, habits=habits))
    all_repos = tuple(r for t in teams for r in t.repos) + shared
    org_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return Organisation(tuple(teams), tuple(users), org_id, all_repos)


def _build_team(
    rng: random.Random, i: int, sites: tuple[tuple[str, float, str, float], ...] = SITES
) -> Team:
    name, department, languages = TEAMS[i % len(TEAMS)]
    if i >= len(TEAMS):
        name = f"{name}-{i // len(TEAMS) + 1}"
    site, offset, region, _ = rng.choices(sites, weights=[s[3] for s in sites])[0]
    repos = []
    for lang in languages:
        for suffix in REPO_SUFFIXES[lang][: rng.randint(2, len(REPO_SUFFIXES[lang]))]:
            base = "master" if rng.random() < 0.15 else "main"
            repos.append(Repo(f"acme/{name}-{suffix}", lang, base))
    return Team(name, department, site, offset, region, tuple(repos))


def _shifted(team: Team, rng: random.Random) -> Team:
    shift = rng.choice(GLOBAL_DAY_SHIFTS)
    return Team(
        team.name, team.department, team.site, team.utc_offset_h - shift, team.region, team.repos
    )


def _team_sizes(rng: random.Random, n_users: int, n_teams: int) -> list[int]:
    weights = [rng.lognormvariate(0, 0.45) for _ in range(n_teams)]
    total = sum(weights)
    sizes = [max(1, int(n_users * w / total)) for w in weights]
    while sum(sizes) > n_users:
        sizes[sizes.index(max(sizes))] -= 1
    i = 0
    while sum(sizes) < n_users:
        sizes[i % n_teams] += 1
        i += 1
    return sizes


def _build_user(
    rng: random.Random, index: int, team: Team, shared: tuple[Repo, ...], emails: set[str]
) -> User:
    email = _unique_email(rng, emails)
    region = team.region
    if region != "eu-west-1" and rng.random() < 0.1:
        region = "us-west-2" if region == "us-east-1" else "us-east-1"
    habit = rng.random()
    models: tuple[tuple[str, float], ...]
    if habit < 0.10:
        models = ((OPUS, 0.65), (SONNET, 0.25), (HAIKU, 0.10))
    elif habit < 0.22:
        models = ((HAIKU, 0.70), (SONNET, 0.30))
    else:
        models = ((SONNET, 0.82), (HAIKU, 0.15), (OPUS, 0.03))
    own = rng.sample(team.repos, k=min(len(team.repos), rng.randint(1, 3)))
    if rng.random() < 0.3:
        own.append(rng.choice(shared))
    return User(
        index=index,
        email=email,
        team=team,
        region=region,
        models=models,
        sessions_per_day=min(12.0, rng.lognormvariate(1.45, 0.45)),
        repos=tuple(own),
        account_uuid=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        device_id=f"{rng.getrandbits(256):064x}",
        host=f"{email.split('@')[0].replace('.', '-')}-{rng.choice(('mbp', 'laptop', 'dev'))}",
        os_type=rng.choices(("darwin", "linux"), weights=(0.8, 0.2))[0],
    )


def _unique_email(rng: random.Random, taken: set[str]) -> str:
    base = f"{rng.choice(FIRST_NAMES)}.{rng.choice(LAST_NAMES)}"
    email, n = f"{base}@example.com", 2
    while email in taken:
        email, n = f"{base}{n}@example.com", n + 1
    taken.add(email)
    return email
