"""What callers hand to the registry: validated, normalised input models.

Country codes, tactics and other vocabulary are checked here, once, for every way in (API, import,
demo data, CLI), and a failure becomes one :class:`~haven.errors.ValidationFailed` naming the field.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from haven.domain.countries import check_country
from haven.domain.enums import (
    Accusation,
    AcquisitionMethod,
    AgeBand,
    DatePrecision,
    Gender,
    HostInvolvement,
    IncidentStatus,
    InstrumentKind,
    InstrumentStatus,
    OrganisationKind,
    Tlp,
)
from haven.domain.taxonomy import Vocabulary, load_taxonomy
from haven.errors import HavenError, ValidationFailed

_TAXONOMY = load_taxonomy()


def _country(value: str) -> str:
    try:
        return check_country(value)
    except HavenError as exc:
        raise ValueError(exc.one_line()) from None


def _tactic(value: str) -> str:
    try:
        return _TAXONOMY.tactic(value).code
    except HavenError as exc:
        raise ValueError(exc.one_line()) from None


def _in(vocabulary: Vocabulary) -> AfterValidator:
    def check(value: str) -> str:
        try:
            return vocabulary.check(value)
        except HavenError as exc:
            raise ValueError(exc.one_line()) from None

    return AfterValidator(check)


CountryCode = Annotated[str, AfterValidator(_country)]
TacticCode = Annotated[str, AfterValidator(_tactic)]
ProfileCode = Annotated[str, _in(_TAXONOMY.target_profiles)]
ResponsibilityCode = Annotated[str, _in(_TAXONOMY.state_responsibility)]
Reliability = Annotated[str, _in(_TAXONOMY.source_reliability)]
Credibility = Annotated[str, _in(_TAXONOMY.information_credibility)]
# Free text may hold tabs and line breaks but no other control characters: they have no place in
# a record, they can forge log lines, and the audit digest uses one as its separator.
_NO_CONTROLS = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"


def text(max_length: int, min_length: int = 0) -> Any:
    return Field(min_length=min_length, max_length=max_length, pattern=_NO_CONTROLS)


ShortText = Annotated[str, text(200, 1)]


class Strict(BaseModel):
    # Validation errors never quote the input: it may be someone's name or address.
    model_config = ConfigDict(
        extra="forbid", frozen=True, str_strip_whitespace=True, hide_input_in_errors=True
    )


class Occurred(Strict):
    """When it happened, as precisely as known: a month is given by its first day, a year by
    1 January, so that records of the same month or year compare equal."""

    start: date
    end: date | None = None
    precision: DatePrecision = DatePrecision.DAY

    @model_validator(mode="after")
    def _consistent(self) -> Occurred:
        if self.precision is DatePrecision.RANGE:
            if self.end is None:
                raise ValueError("a date range needs an end")
            if self.end < self.start:
                raise ValueError("the range ends before it starts")
        elif self.end is not None:
            raise ValueError("only a range has an end date")
        if self.precision is DatePrecision.MONTH and self.start.day != 1:
            raise ValueError("a month is given by its first day")
        if self.precision is DatePrecision.YEAR and (self.start.month, self.start.day) != (1, 1):
            raise ValueError("a year is given by 1 January")
        return self


class Place(Strict):
    country: CountryCode
    locality: str | None = Field(default=None, max_length=200, pattern=_NO_CONTROLS)


class IncidentIn(Strict):
    title: str = text(300, 1)
    narrative: str = Field(default="", max_length=100_000, pattern=_NO_CONTROLS)
    narrative_language: str | None = Field(
        default=None, max_length=35, pattern=r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$"
    )  # BCP 47
    occurred: Occurred
    reported_on: date | None = None
    origin_state: CountryCode
    host_state: CountryCode | None = None
    other_places: tuple[Place, ...] = ()
    tactics: tuple[TacticCode, ...] = Field(min_length=1)
    host_involvement: HostInvolvement = HostInvolvement.UNKNOWN
    accusation: Accusation | None = None
    state_responsibility: ResponsibilityCode | None = None
    status: IncidentStatus = IncidentStatus.REPORTED
    tlp: Tlp = Tlp.AMBER
    # Counted in open statistics whatever the label (aggregates only, never the record).
    cleared_for_statistics: bool = False

    @field_validator("tactics")
    @classmethod
    def _distinct_tactics(cls, tactics: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(tactics)) != len(tactics):
            raise ValueError("a tactic is listed twice")
        return tactics


class Name(Strict):
    """One form of a person's name: in a script (ISO 15924) and, for transliterations, the
    system used."""

    value: str = text(300, 1)
    script: str | None = Field(default=None, max_length=4)
    transliteration: str | None = Field(default=None, max_length=40)


class Document(Strict):
    kind: str = text(40, 1)
    number: str = text(100, 1)
    issuing_state: CountryCode | None = None


class Identity(Strict):
    """Everything that identifies a person; stored only encrypted."""

    names: tuple[Name, ...] = Field(min_length=1)
    date_of_birth: date | None = None
    contact: tuple[ShortText, ...] = ()
    address: str | None = Field(default=None, max_length=1000, pattern=_NO_CONTROLS)
    documents: tuple[Document, ...] = ()


class PersonIn(Strict):
    identity: Identity | None = None
    nationality: CountryCode | None = None
    community: str | None = Field(default=None, max_length=80, pattern=_NO_CONTROLS)
    profile: ProfileCode | None = None
    gender: Gender = Gender.UNDISCLOSED
    age_band: AgeBand | None = None
    tlp: Tlp = Tlp.AMBER


class OrganisationIn(Strict):
    name: str = text(300, 1)
    kind: OrganisationKind
    country: CountryCode | None = None
    aliases: tuple[ShortText, ...] = ()
    tlp: Tlp = Tlp.GREEN


class InstrumentIn(Strict):
    kind: InstrumentKind
    issuing_state: CountryCode
    subject_id: str | None = None
    issued_on: date | None = None
    status: InstrumentStatus = InstrumentStatus.UNKNOWN
    status_on: date | None = None
    reference: str | None = Field(default=None, max_length=100, pattern=_NO_CONTROLS)
    tlp: Tlp = Tlp.AMBER


class EvidenceIn(Strict):
    filename: str | None = Field(default=None, max_length=255, pattern=_NO_CONTROLS)
    media_type: str = text(120, 1)
    size_bytes: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    acquired_at: AwareDatetime
    acquisition_method: AcquisitionMethod
    acquired_by: ShortText
    source_reliability: Reliability = "f"
    information_credibility: Credibility = "6"
    tlp: Tlp = Tlp.AMBER


Model = TypeVar("Model", bound=BaseModel)


def parse(model: type[Model], data: Any) -> Model:
    """Validate ``data``; a failure names the first bad field in one line."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(describe(exc)) from None


def parse_json(model: type[Model], data: str | bytes) -> Model:
    try:
        return model.model_validate_json(data)
    except ValidationError as exc:
        raise ValidationFailed(describe(exc)) from None


def describe(exc: ValidationError) -> str:
    return describe_errors(exc.errors(include_input=False))


def describe_errors(errors: Sequence[Any]) -> str:
    """The first error as "field: what is wrong", never with the rejected value."""
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"]) or "input"
    message = str(first["msg"]).removeprefix("Value error, ")
    more = len(errors) - 1
    suffix = f" (and {more} more)" if more else ""
    return f"{where}: {message}{suffix}"
