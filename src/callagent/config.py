"""All of callagent's settings, in one place.

Every setting is read from a ``CALLAGENT_*`` environment variable (or a ``.env``
file in the working folder); the README lists them all.
"""

from __future__ import annotations

import ipaddress
import json
from functools import lru_cache
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def comma_or_json_list(value: Any) -> Any:
    """A list setting's text as written: ``a,b`` (spaces around commas ignored) or a
    JSON list ``["a", "b"]``; an empty text is an empty list. Lists pass unchanged."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"not a JSON list ({exc.msg} at position {exc.pos}); write a comma list "
                'such as a,b or a JSON list such as ["a", "b"]'
            ) from exc
    return [part.strip() for part in text.split(",") if part.strip()]


# Every list-valued setting is one of these (or, for objects, a JSON-only list with
# NoDecode and its own validator): pydantic-settings would otherwise insist on JSON
# and stop with "error parsing value" on the comma list the README documents.
CommaList = Annotated[list[str], NoDecode, BeforeValidator(comma_or_json_list)]


class AmiNode(BaseModel):
    """One Asterisk node whose Manager Interface callagent follows."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    host: str = "127.0.0.1"
    port: int = Field(default=5038, ge=1, le=65535)
    username: str = "callagent"
    secret: SecretStr = SecretStr("")
    # This node's CEL store when it is not CALLAGENT_CEL_URL (one store per PBX)
    cel_url: str = ""

    def __repr__(self) -> str:  # the secret never reaches a log line through repr()
        return f"AmiNode(name={self.name!r}, host={self.host!r}, port={self.port})"


class Settings(BaseSettings):
    """callagent's configuration; see the README's Configuration section."""

    model_config = SettingsConfigDict(
        env_prefix="CALLAGENT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = "sqlite:///./callagent.db"

    # Either a JSON list of nodes in CALLAGENT_AMI_NODES, or one node from AMI_HOST & co.
    ami_nodes: Annotated[list[AmiNode], NoDecode] = Field(default_factory=list)
    ami_host: str | None = None
    ami_port: int = 5038
    ami_username: str = "callagent"
    ami_secret: SecretStr = SecretStr("")
    ami_node_name: str = "pbx1"

    ami_ping_interval: float = Field(default=10.0, gt=0)
    ami_ping_timeout: float = Field(default=5.0, gt=0)
    ami_connect_timeout: float = Field(default=5.0, gt=0)
    ami_reconnect_min: float = Field(default=0.5, gt=0)
    ami_reconnect_max: float = Field(default=30.0, gt=0)
    ami_max_frame_bytes: int = Field(default=1_048_576, ge=4096)

    # Several instances on one PostgreSQL: each AMI node is followed by one instance at a
    # time, under a lease another takes over within this many seconds (SQLite: no leases).
    node_takeover_seconds: float = Field(default=10.0, ge=0)
    # This instance's name in the node leases; empty: host name and HTTP port.
    instance_id: str = Field(default="", max_length=200)
    # The waiting calls' list and who was tried for each in the database, so that any
    # instance answers `route` in the same order: auto (on PostgreSQL; SQLite has one
    # instance and keeps them in the router's memory), off (each instance its own order).
    shared_routing: str = Field(default="auto", pattern=r"^(auto|off)$")

    trunk_endpoints: CommaList = Field(default_factory=lambda: ["PJSIP/trunk"])

    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=1, le=65535)
    # Load bounds: API requests handled at once per class (JSON API, web pages), beyond
    # which the answer is 503 with Retry-After; worker threads for the API (the API's pool
    # keeps this many connections and opens up to 2 x the in-flight limit more); routing,
    # readiness and the AMI-driven state changes use a pool of their own, never the API's.
    api_max_in_flight: int = Field(default=16, ge=1, le=1000)
    api_threads: int = Field(default=8, ge=1, le=256)
    api_retry_after: int = Field(default=1, ge=1, le=3600)
    routing_db_pool_size: int = Field(default=10, ge=2, le=256)
    db_pool_timeout: float = Field(default=10.0, gt=0)
    agi_host: str = "127.0.0.1"
    agi_port: int = Field(default=4573, ge=0, le=65535)  # 0: any free port (tests)

    agi_enabled: bool = True
    agi_env_timeout: float = Field(default=5.0, gt=0)
    agi_command_timeout: float = Field(default=10.0, gt=0)
    dial_timeout: int = Field(default=20, ge=5, le=300)
    max_wait: float = Field(default=300.0, ge=0)
    # A call told `wait` that has not asked again for this long has left the waiting list
    # (the dialplan asks every ~10 s); at most this many calls wait, then `overflow`.
    waiting_silence_seconds: float = Field(default=30.0, gt=0)
    max_waiting_calls: int = Field(default=1000, ge=1)
    wrapup_seconds: float = Field(default=60.0, ge=0)
    wrapup_forms: str = ""  # YAML file of wrap-up forms; "": the packaged default
    wrapup_extend_seconds: float = Field(default=60.0, ge=0)  # one extension of a wrap-up
    no_answer_policy: str = Field(default="skip", pattern=r"^(skip|pause)$")
    no_answer_skip_seconds: float = Field(default=30.0, ge=0)
    claim_timeout: float = Field(default=60.0, gt=0)
    repeat_caller_window_minutes: float = Field(default=0.0, ge=0)  # 0: off
    # Reports: the centre's time zone (days and intervals), the service-level threshold,
    # abandons shorter than this are "short" (left out of SL and abandon rate, or not).
    timezone: str = "Europe/Moscow"
    sl_threshold_seconds: float = Field(default=20.0, gt=0)
    short_abandon_seconds: float = Field(default=5.0, ge=0)
    exclude_short_abandons: bool = True
    # Reports' interval aggregates: the service recounts what changed this often (0: off).
    report_aggregate_seconds: float = Field(default=60.0, ge=0)
    # The wallboard's tiles turn amber / red at these levels (SL and abandon rate: 0-1).
    wallboard_sl_amber: float = Field(default=0.8, ge=0, le=1)
    wallboard_sl_red: float = Field(default=0.6, ge=0, le=1)
    wallboard_waiting_amber: int = Field(default=3, ge=1)
    wallboard_waiting_red: int = Field(default=6, ge=1)
    wallboard_wait_amber_seconds: float = Field(default=20.0, gt=0)
    wallboard_wait_red_seconds: float = Field(default=60.0, gt=0)
    wallboard_abandon_amber: float = Field(default=0.05, ge=0, le=1)
    wallboard_abandon_red: float = Field(default=0.10, ge=0, le=1)
    fallback_queue: str = Field(default="support", pattern=r"^[A-Za-z0-9_-]*$")  # "": no mirroring
    # Read the fallback queue back (QueueStatus) and correct it this often, seconds, besides
    # after every AMI login and FullyBooted; 0: only then.
    queue_sync_interval: float = Field(default=60.0, ge=0)

    # The PBX's CEL store (an SQLAlchemy URL, read-only: sqlite:////var/log/asterisk/cel.db,
    # postgresql://...): calls missed while callagent was down are rebuilt from it after
    # every (re)connect; "": not read (such calls are missing). dialplan/README.md.
    cel_url: str = ""
    cel_table: str = Field(default="cel", pattern=r"^[A-Za-z0-9_.]+$")
    cel_lookback_hours: float = Field(default=24.0, gt=0)  # the longest gap rebuilt

    writer_batch_size: int = Field(default=500, ge=1)
    writer_flush_interval: float = Field(default=0.05, ge=0)
    finished_calls_memory: int = Field(default=20_000, ge=100)

    session_lifetime_minutes: int = Field(default=720, ge=1)
    cookie_secure: bool = True
    # Failed logins: an account's first login_max_failures cost nothing, then each one
    # doubles the wait before the next try (login_backoff_seconds, up to ..._max_seconds);
    # one address (an office's NAT) is refused after login_address_max_failures. Failures
    # are forgotten login_window_seconds after the last one.
    login_max_failures: int = Field(default=5, ge=1)
    login_backoff_seconds: float = Field(default=1.0, gt=0)
    login_backoff_max_seconds: float = Field(default=300.0, gt=0)
    login_address_max_failures: int = Field(default=50, ge=1)
    login_window_seconds: int = Field(default=900, ge=1)
    # Proxies whose X-Forwarded-For names the client (addresses or CIDRs, a comma list);
    # empty: the peer's own address, whatever a header says (127.0.0.1 included).
    trusted_proxies: CommaList = Field(default_factory=list)
    # Searches by an applicant's phone number (GET /calls?phone=, /callers/{n}/history,
    # campaign entries ?phone=) per user or token in any minute; each is audited.
    phone_search_per_minute: int = Field(default=30, ge=1)

    originate_context: str = Field(default="from-operators", pattern=r"^[A-Za-z0-9_-]+$")
    originate_ring_timeout: int = Field(default=30, ge=5, le=300)
    originate_per_minute: int = Field(default=6, ge=1)

    webhook_timeout: float = Field(default=5.0, gt=0)
    webhook_max_attempts: int = Field(default=8, ge=1)
    webhook_backoff_base: float = Field(default=2.0, gt=0)
    webhook_backoff_cap: float = Field(default=600.0, gt=0)

    # The built-in PBX simulator: "auto" starts it when no AMI node is configured.
    simulator: str = Field(default="auto", pattern=r"^(auto|off)$")
    simulator_call_interval: float = Field(default=8.0, gt=0)
    simulator_operators: int = Field(default=3, ge=1, le=50)
    simulator_speed: float = Field(default=1.0, gt=0)  # >1 plays calls faster (tests)

    # Notification registries: numbers without a country code are read in this region.
    phone_region: str = Field(default="RU", pattern=r"^[A-Z]{2}$")
    registry_max_bytes: int = Field(default=20_971_520, ge=1024)  # largest registry file
    registry_max_rows: int = Field(default=100_000, ge=1)  # most data rows in one file
    # largest request body other than a registry upload (JSON, forms); logins: 16 KiB
    max_body_bytes: int = Field(default=1_048_576, ge=1024)

    # The campaign dialer: the service dials running campaigns itself unless "off".
    campaign_scheduler: str = Field(default="on", pattern=r"^(on|off)$")
    campaign_ring_timeout: int = Field(default=30, ge=5, le=300)  # Originate Timeout, s
    campaign_response_timeout: float = Field(default=10.0, gt=0)  # for the Originate's answer
    campaign_lease_seconds: float = Field(default=120.0, ge=2)  # an entry's lease, renewed
    campaign_max_call_seconds: float = Field(default=900.0, gt=0)  # longest answered call
    campaign_poll_interval: float = Field(default=5.0, gt=0)  # scheduler: look for due entries
    tts_command: str = ""  # text on stdin -> {file} (a .wav); "": prompt files only
    tts_dir: str = "/var/lib/asterisk/sounds/callagent"  # where TTS files go (Asterisk reads)
    # Asterisk's sounds folder as this process sees it (e.g. /var/lib/asterisk/sounds):
    # when set, start-up warns about notification prompts Asterisk would not find there
    # (`callagent prompts install` puts them in); "": not checked (PBX on another machine).
    asterisk_sounds_dir: str = ""
    # Call recordings: the folder callagent reads them from (Asterisk's MixMonitor folder,
    # shared or mounted); an absolute name Asterisk stored under recordings_pbx_dir is read
    # from the same place under recordings_dir. Operators hear their own calls only when
    # the centre allows it; recordings older than the retention (days; 0: kept) are deleted
    # by `callagent recordings purge`.
    recordings_dir: str = "./recordings"
    recordings_pbx_dir: str = "/var/spool/asterisk/monitor"
    recordings_operators_listen: bool = False
    recordings_retention_days: int = Field(default=0, ge=0)
    # Complaints: the decision deadline rule ("30 calendar days", "10 working days"), the
    # holidays working days skip (YYYY-MM-DD), "due soon" within this many days.
    complaint_deadline: str = "30 calendar days"
    complaint_holidays: CommaList = Field(default_factory=list)
    complaint_due_soon_days: int = Field(default=3, ge=0, le=60)
    # QA evaluation: the scorecard file (YAML, README "Quality evaluation"; "": the packaged
    # public-services one), checked at start like the wrap-up forms.
    quality_scorecard: str = ""
    # Workforce planning (README, Workforce planning): the forecast's interval, the weeks
    # of calls it reads and holds out, special days; the staffing target (the SL
    # threshold is CALLAGENT_SL_THRESHOLD_SECONDS), shrinkage as name=share items, the
    # callers' patience for Erlang A (0: measured from the abandoned calls).
    planning_interval_minutes: int = Field(default=30)
    planning_history_weeks: int = Field(default=12, ge=1, le=104)
    planning_backtest_weeks: int = Field(default=2, ge=0, le=12)
    planning_holidays: CommaList = Field(default_factory=list)
    planning_sl_target: float = Field(default=0.8, ge=0, lt=1)
    planning_asa_target_seconds: float = Field(default=0.0, ge=0)  # 0: not a target
    planning_max_occupancy: float = Field(default=0.85, ge=0.05, le=1)
    planning_shrinkage: CommaList = Field(
        default_factory=lambda: ["breaks=0.10", "training=0.05", "absence=0.08"]
    )
    planning_patience_seconds: float = Field(default=0.0, ge=0)
    # The schedules' labour rules as name=value items (minutes; max_days_week in days)
    # over planning/rules.py's defaults, e.g. max_week_minutes=2400,min_rest_minutes=660
    planning_labour_rules: CommaList = Field(default_factory=list)
    # Each team's share of the calls as team=share items (teams: the operators' groups);
    # empty: measured from the history's calls (planning/teams.py)
    planning_team_shares: CommaList = Field(default_factory=list)

    # Website call-back requests (README, Website call-back requests): the site key's shared
    # secret (HMAC-SHA256 of the body, as webhooks are signed; empty: the public endpoint
    # answers 503), requests accepted per applicant's number a day and per client address an
    # hour, the centre's call-back hours (a campaign-style window per weekday in
    # CALLAGENT_TIMEZONE), attempts and the wait between them, the priority a call-back has
    # among waiting calls (routing: higher first; inbound calls have 0), the dialplan
    # context the operator-first Originate enters, and whether the service dials them.
    callback_site_secret: SecretStr = SecretStr("")
    callback_per_number: int = Field(default=3, ge=1, le=1000)
    callback_per_address: int = Field(default=30, ge=1, le=100_000)
    callback_hours: dict[str, list[list[str]]] = Field(
        default_factory=lambda: (
            {day: [["08:00", "20:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
            | {"sat": [["09:00", "16:00"]]}
        )
    )
    callback_max_attempts: int = Field(default=3, ge=1, le=20)
    callback_retry_seconds: int = Field(default=900, ge=10, le=86_400)
    callback_priority: int = Field(default=1, ge=-100, le=100)
    callback_context: str = Field(default="callagent-callback", pattern=r"^[A-Za-z0-9_-]{1,80}$")
    callback_dialer: str = Field(default="on", pattern=r"^(on|off)$")

    log_level: str = "INFO"

    @field_validator("ami_nodes", mode="before")
    @classmethod
    def _parse_nodes(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            if not value:
                return []
            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(
                    "CALLAGENT_AMI_NODES must be a JSON list such as "
                    '[{"name": "pbx1", "host": "10.0.0.5", "username": "callagent", '
                    f'"secret": "..."}}]: {exc.msg} at position {exc.pos}'
                ) from exc
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    f"{item!r} is not an IP address or network: CALLAGENT_TRUSTED_PROXIES "
                    "takes addresses or CIDRs such as 10.0.0.5,10.1.0.0/16"
                ) from None
        return value

    @model_validator(mode="after")
    def _callback_hours(self) -> Settings:
        from callagent.campaigns.window import CallingWindow, WindowError

        try:
            CallingWindow.parse(self.callback_hours)
        except WindowError as exc:
            raise ValueError(f"CALLAGENT_CALLBACK_HOURS: {exc}") from None
        return self

    @model_validator(mode="after")
    def _complaint_rule(self) -> Settings:
        from callagent.complaints.deadline import DeadlineRule, RuleError

        try:
            DeadlineRule.parse(self.complaint_deadline, self.complaint_holidays)
        except RuleError as exc:
            raise ValueError(
                f"CALLAGENT_COMPLAINT_DEADLINE / CALLAGENT_COMPLAINT_HOLIDAYS: {exc}"
            ) from None
        return self

    @model_validator(mode="after")
    def _planning(self) -> Settings:
        from callagent.planning.options import parse_holidays, parse_shrinkage

        if self.planning_interval_minutes not in (15, 30, 60):
            raise ValueError("CALLAGENT_PLANNING_INTERVAL_MINUTES must be 15, 30 or 60")
        try:
            parse_holidays(self.planning_holidays)
        except ValueError as exc:
            raise ValueError(f"CALLAGENT_PLANNING_HOLIDAYS: {exc}") from None
        try:
            parse_shrinkage(self.planning_shrinkage)
        except ValueError as exc:
            raise ValueError(f"CALLAGENT_PLANNING_SHRINKAGE: {exc}") from None
        from callagent.planning.rules import parse_rules

        try:
            parse_rules(self.planning_labour_rules)
        except ValueError as exc:
            raise ValueError(f"CALLAGENT_PLANNING_LABOUR_RULES: {exc}") from None
        from callagent.planning.teams import parse_team_shares

        try:
            parse_team_shares(self.planning_team_shares)
        except ValueError as exc:
            raise ValueError(f"CALLAGENT_PLANNING_TEAM_SHARES: {exc}") from None
        return self

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not an IANA time zone: CALLAGENT_TIMEZONE takes a name such "
                "as Europe/Moscow or Europe/Kyiv"
            ) from None
        return value

    @model_validator(mode="after")
    def _single_node(self) -> Settings:
        if self.ami_host and not self.ami_nodes:
            self.ami_nodes = [
                AmiNode(
                    name=self.ami_node_name,
                    host=self.ami_host,
                    port=self.ami_port,
                    username=self.ami_username,
                    secret=self.ami_secret,
                )
            ]
        names = [node.name for node in self.ami_nodes]
        if len(names) != len(set(names)):
            raise ValueError(f"AMI node names must be unique, got {names}")
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
