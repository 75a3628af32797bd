"""One model, whatever its spelling: the canonical identity of a model attribute.

The same Claude model reaches spanwatch under many names: a Bedrock foundation-model ID
(`anthropic.claude-sonnet-4-5-20250929-v1:0`), a cross-region or global inference profile
(`us.`, `eu.`, `apac.`, `jp.`, `au.`, `us-gov.`, `global.` and any other geography prefix), an
ARN of either, an application inference profile (only the configuration knows what it serves),
the Anthropic API name Claude Code's own events report (`claude-sonnet-4-5-20250929`,
`claude-3-5-haiku-20241022`, `claude-opus-4-1`, `claude-sonnet-4-5-20250929[1m]`), a Vertex AI
name (`claude-sonnet-4-5@20250929`), in any case. Allow-lists, detectors and incident groups
must see one name for all of them, so decoding settles it here, once per distinct spelling.

The canonical name is the provider and the model's own name without snapshot date, Bedrock
version suffix or geography: `anthropic.claude-sonnet-4-5`, `anthropic.claude-3-5-haiku`,
`anthropic.claude-opus-4` (`claude-opus-4-0` and `claude-opus-4-20250514` alike),
`meta.llama3-1-70b-instruct`. Claude models keep Anthropic's word order (`claude-3-5-sonnet`
before the fourth generation, `claude-sonnet-4-5` since), so the names people already write in
allow-lists keep meaning what they meant; `model.family` and `model.version` give the parts in
one shape for both (`sonnet`, `3.5` / `4.5`). Anything that is not a known provider's model
(an empty or numeric attribute, another vendor's name, an unmapped application profile) is
`unknown`: never dropped, never an error; the unapproved-model rule decides what it means.

>>> catalog = ModelCatalog()
>>> catalog.identify("US.Anthropic.Claude-Sonnet-4-5-20250929-v1:0").model
'anthropic.claude-sonnet-4-5'
>>> catalog.identify("claude-3-5-haiku-20241022").version
'3.5'
>>> catalog.identify("").model
'unknown'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

UNKNOWN = "unknown"

# Model providers on Amazon Bedrock: their IDs are `provider.name[-vN[:M]]`.
BEDROCK_PROVIDERS = frozenset(
    {
        "ai21",
        "amazon",
        "anthropic",
        "cohere",
        "deepseek",
        "google",
        "luma",
        "meta",
        "minimax",
        "mistral",
        "moonshot",
        "moonshotai",
        "nvidia",
        "openai",
        "qwen",
        "stability",
        "twelvelabs",
        "writer",
    }
)
# Resource types of a Bedrock ARN that name a model directly; the others (application
# inference profiles, provisioned throughput, custom and imported models, prompt routers) are
# names the account chose, known only through `models.profiles` in the configuration.
_DIRECT_ARN_RESOURCES = frozenset({"foundation-model", "inference-profile"})
_CLAUDE = "claude"
_SNAPSHOT_DIGITS = 8
_MAX_CACHED = 10_000  # distinct spellings remembered; telemetry has a handful


@dataclass(frozen=True, slots=True)
class ModelIdentity:
    """What one model attribute names: the canonical `model` and its parts.

    `profile` is the inference-profile geography (`us`, `eu`, `global`, ... or `application`
    for an application profile) when the spelling carried one.
    """

    model: str
    provider: str
    family: str = ""
    version: str = ""
    snapshot: str = ""
    profile: str = ""

    @property
    def known(self) -> bool:
        return self.model != UNKNOWN

    def fields(self) -> dict[str, str]:
        """The event fields this identity fills besides `model` (empty parts left out)."""
        out = {"model.provider": self.provider}
        if self.family:
            out["model.family"] = self.family
        if self.version:
            out["model.version"] = self.version
        if self.snapshot:
            out["model.snapshot"] = self.snapshot
        if self.profile:
            out["model.profile"] = self.profile
        return out


UNKNOWN_MODEL = ModelIdentity(UNKNOWN, UNKNOWN)
# Every field `ModelIdentity.fields` may set, and `model_id` (the raw spelling).
MODEL_FIELDS = (
    "model_id",
    "model.provider",
    "model.family",
    "model.version",
    "model.snapshot",
    "model.profile",
)


class ModelCatalog:
    """Canonicalises model spellings; `profiles` maps account-specific names to models.

    `profiles`: an application inference profile's (or provisioned or custom model's) ARN or
    ID -> the model it serves, in any spelling (`anthropic.claude-sonnet-4-5`,
    `us.anthropic.claude-sonnet-4-5-20250929-v1:0`, ...). Results are cached per spelling.
    """

    __slots__ = ("_cache", "_profiles")

    def __init__(self, profiles: Mapping[str, str] | None = None) -> None:
        self._profiles: dict[str, ModelIdentity] = {}
        for name, target in (profiles or {}).items():
            resolved = identify_spelling(target)
            if not resolved.known:
                raise ValueError(f"models.profiles: {name!r} maps to {target!r}, not a known model")
            identity = ModelIdentity(
                resolved.model,
                resolved.provider,
                resolved.family,
                resolved.version,
                resolved.snapshot,
                "application",
            )
            key = _clean(name)
            self._profiles[key] = identity
            if key.startswith("arn:"):  # the same profile named by its ID alone
                self._profiles.setdefault(key.rsplit("/", 1)[-1], identity)
        self._cache: dict[object, ModelIdentity] = {}

    def identify(self, raw: object) -> ModelIdentity:
        """The identity of one model attribute value; never raises."""
        try:
            found = self._cache.get(raw)
        except TypeError:  # unhashable (a list attribute): no caching, still an answer
            return self._identify(raw)
        if found is None:
            found = self._identify(raw)
            if len(self._cache) >= _MAX_CACHED:
                self._cache.clear()
            self._cache[raw] = found
        return found

    def _identify(self, raw: object) -> ModelIdentity:
        text = _clean(raw)
        if self._profiles:
            mapped = self._profiles.get(text)
            if mapped is None and text.startswith("arn:"):
                mapped = self._profiles.get(text.rsplit("/", 1)[-1])
            if mapped is not None:
                return mapped
        return identify_spelling(text)

    def canonical(self, raw: object) -> str:
        """Just the canonical name (for allow-list entries and tests)."""
        return self.identify(raw).model


def _clean(raw: object) -> str:
    if isinstance(raw, bool) or raw is None:
        return ""
    text = raw if isinstance(raw, str) else str(raw)
    return text.strip().lower()


def arn_region(raw: object) -> str | None:
    """The region of a Bedrock ARN (`arn:PARTITION:bedrock:REGION:ACCOUNT:RESOURCE`), or None
    for any other spelling: a call made through an ARN was made in that region, whether its
    client said so or not."""
    text = _clean(raw)
    if not text.startswith("arn:"):
        return None
    parts = text.split(":", 5)
    if len(parts) < 6 or parts[2] != "bedrock":
        return None
    region = parts[3]
    if not region or not all(c.isalnum() or c == "-" for c in region):
        return None
    return region


def identify_spelling(raw: object) -> ModelIdentity:
    """The identity of a spelling without account-specific profiles; never raises."""
    try:
        return _identify(_clean(raw))
    except (ValueError, IndexError):  # defensive: a spelling no branch foresaw is unknown
        return UNKNOWN_MODEL


def _identify(text: str) -> ModelIdentity:
    if not text:
        return UNKNOWN_MODEL
    profile = ""
    if text.startswith("arn:"):
        parts = text.split(":", 5)
        if len(parts) < 6 or parts[2] != "bedrock" or "/" not in parts[5]:
            return UNKNOWN_MODEL
        kind, _, text = parts[5].partition("/")
        if kind not in _DIRECT_ARN_RESOURCES:
            return ModelIdentity(UNKNOWN, UNKNOWN, profile="application")
    for prefix in ("bedrock/", "converse/"):  # gateway-style routing prefixes
        text = text.removeprefix(prefix)
    text = text.replace("/", ".", 1) if "/" in text else text
    provider, name = _split_provider(text)
    if provider is None:
        return UNKNOWN_MODEL
    head = text.split(".", 1)[0]
    if provider and head != provider:
        profile = head
    if provider == "anthropic" or (not provider and name.startswith(_CLAUDE)):
        return _claude(name, profile)
    if not provider:
        return UNKNOWN_MODEL
    name = _strip_bedrock_version(name)
    if not _plain_name(name):
        return UNKNOWN_MODEL
    return ModelIdentity(f"{provider}.{name}", provider, family=name, profile=profile)


def _split_provider(text: str) -> tuple[str | None, str]:
    """(provider, model name); provider "" for a bare name, None for an unknown provider.

    A geography prefix (`us.`, `apac.`, `us-gov.`, `global.`, ...) before a known provider
    is skipped: Bedrock names its inference profiles that way.
    """
    parts = text.split(".")
    if len(parts) == 1 or (text.startswith(_CLAUDE) and parts[0] not in BEDROCK_PROVIDERS):
        return "", text
    if parts[0] in BEDROCK_PROVIDERS:
        return parts[0], ".".join(parts[1:])
    if len(parts) >= 3 and parts[1] in BEDROCK_PROVIDERS and _is_geography(parts[0]):
        return parts[1], ".".join(parts[2:])
    return None, text


def _plain_name(name: str) -> bool:
    """A model name as providers write them: letters and digits joined by `-`, `.` or `_`."""
    if not name or not name[0].isalnum() or not name[-1].isalnum():
        return False
    return all(ch.isalnum() or ch in "-._" for ch in name) and name.isascii()


def _is_geography(word: str) -> bool:
    base = word.removesuffix("-gov")
    return 2 <= len(base) <= 6 and base.isalpha()


def _strip_bedrock_version(name: str) -> str:
    """`nova-pro-v1:0` -> `nova-pro`; `gpt-oss-120b-1:0` -> `gpt-oss-120b`; context suffixes
    (`:200k`) go too. A name without a version suffix (`mistral-large-2402`) is left alone."""
    colon = ":" in name
    name = name.split(":", 1)[0]
    head, _, last = name.rpartition("-")
    if head and ((colon and last.isdigit()) or (last[:1] == "v" and last[1:].isdigit())):
        name = head
    return name


_LEGACY = {
    # Bedrock's and the API's names of the second-generation models
    "claude-v1": ("claude-1", "claude", "1"),
    "claude-v2": ("claude-2", "claude", "2"),
    "claude-v2:1": ("claude-2-1", "claude", "2.1"),
    "claude-2": ("claude-2", "claude", "2"),
    "claude-2.0": ("claude-2", "claude", "2"),
    "claude-2-0": ("claude-2", "claude", "2"),
    "claude-2.1": ("claude-2-1", "claude", "2.1"),
    "claude-2-1": ("claude-2-1", "claude", "2.1"),
    "claude-instant-v1": ("claude-instant-1", "instant", "1"),
    "claude-instant-1": ("claude-instant-1", "instant", "1"),
    "claude-instant-1.2": ("claude-instant-1", "instant", "1"),
    "claude-instant-1-2": ("claude-instant-1", "instant", "1"),
}


def _claude(name: str, profile: str) -> ModelIdentity:
    """An Anthropic model name (any generation, any suffix) -> its identity."""
    name = name.split("[", 1)[0]  # Claude Code's `[1m]` context marker
    name, _, vertex_snapshot = name.partition("@")
    legacy, candidate = _legacy(name)
    if legacy is not None:
        canonical, family, version = legacy
        return ModelIdentity(f"anthropic.{canonical}", "anthropic", family, version, "", profile)
    tokens = _version_dots_to_dashes(candidate).split("-")
    if tokens[0] != _CLAUDE:
        return ModelIdentity(UNKNOWN, "anthropic", profile=profile)
    parts = _ClaudeParts(snapshot=vertex_snapshot if vertex_snapshot.isdigit() else "")
    for part in tokens[1:]:
        parts.add(part)
    parts.drop_point_zero()
    kept = parts.kept
    if not kept or not all(part.isascii() and part.isalnum() for part in kept):
        return ModelIdentity(UNKNOWN, "anthropic", profile=profile)
    canonical = "anthropic.claude-" + "-".join(kept)
    version = ".".join(parts.numbers)
    family = parts.family or _CLAUDE
    return ModelIdentity(canonical, "anthropic", family, version, parts.snapshot, profile)


def _legacy(name: str) -> tuple[tuple[str, str, str] | None, str]:
    """A legacy name's (canonical, family, version), or None; and the name without the
    `:n` suffixes tried: `claude-v2:1` is a version, `claude-v2:1:18k` a context window of it."""
    candidate = name
    while True:
        legacy = _LEGACY.get(candidate)
        if legacy is not None or ":" not in candidate:
            return legacy, candidate
        candidate = candidate.rsplit(":", 1)[0]


@dataclass
class _ClaudeParts:
    """The dash-separated parts of a Claude name, sorted as they are read."""

    snapshot: str = ""
    family: str = ""
    kept: list[str] = field(default_factory=list)  # the parts of the canonical name
    numbers: list[str] = field(default_factory=list)  # the version's numbers

    def add(self, part: str) -> None:
        if part.isdigit() and len(part) == _SNAPSHOT_DIGITS:
            self.snapshot = part
        elif part == "latest" or (part[:1] == "v" and part[1:].isdigit()):
            return  # an alias of the newest snapshot; a Bedrock `-v1` suffix
        elif part.isdigit() and len(part) <= 2 and len(self.numbers) < 2:
            self.numbers.append(part)
            self.kept.append(part)
        elif part.isalpha() and not self.family:
            self.family = part
            self.kept.append(part)
        elif part:
            self.kept.append(part)

    def drop_point_zero(self) -> None:
        """`claude-opus-4-0` is `claude-opus-4`."""
        family, kept, numbers = self.family, self.kept, self.numbers
        if family and kept[:1] == [family] and numbers[1:] == ["0"] and kept[-1] == "0":
            kept.pop()
            numbers.pop()


def _version_dots_to_dashes(name: str) -> str:
    """`claude-3.5-sonnet` and `claude-sonnet-4.5` (gateway spellings) -> dashes."""
    if "." not in name:
        return name
    chars = list(name)
    for i, ch in enumerate(chars):
        if (
            ch == "."
            and 0 < i < len(chars) - 1
            and chars[i - 1].isdigit()
            and chars[i + 1].isdigit()
        ):
            chars[i] = "-"
    return "".join(chars).replace(".", "-")


WILDCARDS = ("*", "?")


def canonical_list(entries: list[str], catalog: ModelCatalog) -> list[str]:
    """An allow-list of models as the rules should compare it with canonical `model`s.

    An exact entry in any spelling becomes its canonical name, so listing one spelling
    approves the model however it is invoked; a pattern (`anthropic.claude-*-4-5*`) is kept
    as written (it matches canonical names, and the rule also tries it on the raw
    `model_id`); an entry that names no known model is kept as written, for the raw ID.
    """
    out: list[str] = []
    for entry in entries:
        text = str(entry).strip()
        if not any(w in text for w in WILDCARDS):
            identity = catalog.identify(text)
            if identity.known:
                text = identity.model
        if text not in out:
            out.append(text)
    return out
