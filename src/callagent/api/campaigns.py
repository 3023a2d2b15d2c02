"""``/api/v1/campaigns`` and ``/api/v1/do-not-call``: notification campaigns, their
registries (upload, reports, export with results), entries and progress."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import Response
from sqlalchemy.orm import Session

from callagent.api.input_check import message_language
from callagent.api.pii_search import allow_phone_search, audit_phone_search
from callagent.api.schemas import Id, Problem
from callagent.api.security import Db, Requires
from callagent.auth.masking import mask_phone
from callagent.auth.scopes import Scope
from callagent.auth.service import Principal, audit
from callagent.campaigns import service
from callagent.campaigns.registry_export import export_file, export_filename
from callagent.campaigns.registry_import import import_registry
from callagent.campaigns.registry_preview import as_json, preview_file
from callagent.campaigns.schemas import (
    CampaignCreate,
    CampaignOut,
    CampaignUpdate,
    DoNotCallIn,
    DoNotCallOut,
    EntryOut,
    EntryPage,
    ImportOut,
    ImportSummary,
    Progress,
    RegistryPreviewOut,
)
from callagent.campaigns.tables import EncodingProblem, RegistryFileError, read_table
from callagent.config import Settings
from callagent.db.campaign_models import RegistryImport
from callagent.errors import ServiceError
from callagent.spreadsheets import MEDIA_TYPES


def _file_refused(filename: str, exc: RegistryFileError) -> Exception:
    """A registry file refused (422): with its code and params when it has one, so that
    the campaign page says it in its language."""
    if exc.code:
        params = {"file": filename, **exc.params}
        return ServiceError(422, f"{filename}: {exc}", code=exc.code, params=params)
    return HTTPException(422, f"{filename}: {exc}")


router = APIRouter(prefix="/api/v1/campaigns", tags=["campaigns"])
dnc_router = APIRouter(prefix="/api/v1/do-not-call", tags=["campaigns"])
Reader = Annotated[Principal, Depends(Requires(Scope.CAMPAIGNS_READ))]
Writer = Annotated[Principal, Depends(Requires(Scope.CAMPAIGNS_WRITE))]
Exporter = Annotated[Principal, Depends(Requires(Scope.CAMPAIGNS_READ, Scope.CALLS_READ_PII))]
EntryStatus = Literal[
    "pending", "in_progress", "notified", "not_notified", "invalid", "do_not_call"
]
_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem},
    409: {"model": Problem},
    422: {"model": Problem},
}


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _pii(principal: Principal) -> bool:
    return Scope.CALLS_READ_PII in principal.scopes


def _import_out(
    db: Session,
    record: RegistryImport,
    principal: Principal,
    *,
    repeated: bool = False,
    notes: list[str] | None = None,
    read: bool = True,
) -> ImportOut:
    out = ImportOut.model_validate(record).model_copy(
        update={"repeated": repeated, "notes": notes or []}
    )
    if not _pii(principal):
        names = service.name_keys(record.mapping)
        return out.model_copy(update={"report": service.masked_report(out.report, names)})
    if out.report and read:  # the uploader's own answer reads nothing they did not send
        audit(
            db,
            principal=principal,
            action="campaigns.import_report",
            detail={"campaign_id": record.campaign_id, "import_id": record.id},
            rows=len(out.report),
        )
        db.commit()
    return out


@router.post(
    "",
    response_model=CampaignOut,
    status_code=201,
    summary="Create a notification campaign (status draft)",
    responses=_ERRORS,
)
def campaigns_create(body: CampaignCreate, db: Db, principal: Writer) -> CampaignOut:
    campaign = service.create_campaign(db, spec=body, actor=principal.actor)
    return CampaignOut.model_validate(campaign)


@router.get("", response_model=list[CampaignOut], summary="List campaigns, newest first")
def campaigns_list(db: Db, _: Reader) -> list[CampaignOut]:
    return [CampaignOut.model_validate(c) for c in service.list_campaigns(db)]


@router.get("/{campaign_id}", response_model=CampaignOut, summary="One campaign", responses=_ERRORS)
def campaigns_get(campaign_id: Id, db: Db, _: Reader) -> CampaignOut:
    return CampaignOut.model_validate(service.get_campaign(db, campaign_id=campaign_id))


@router.patch(
    "/{campaign_id}",
    response_model=CampaignOut,
    summary="Change a campaign's settings (window, holidays, limits, ...)",
    responses=_ERRORS,
)
def campaigns_patch(campaign_id: Id, body: CampaignUpdate, db: Db, _: Writer) -> CampaignOut:
    nulls = [k for k, v in body.model_dump(exclude_unset=True).items() if v is None]
    if nulls:
        raise HTTPException(422, f"{', '.join(nulls)} cannot be null: leave it out to keep it")
    campaign = service.get_campaign(db, campaign_id=campaign_id)
    service.update_campaign(db, campaign=campaign, change=body)
    return CampaignOut.model_validate(campaign)


def _status_route(action: str):  # type: ignore[no-untyped-def]
    def change(campaign_id: Id, db: Db, _: Writer) -> CampaignOut:
        campaign = service.get_campaign(db, campaign_id=campaign_id)
        service.set_status(db, campaign=campaign, action=action)
        return CampaignOut.model_validate(campaign)

    return change


router.add_api_route(
    "/{campaign_id}/start",
    _status_route("start"),
    methods=["POST"],
    response_model=CampaignOut,
    summary="Start (or resume) calling: status running",
    responses=_ERRORS,
)
router.add_api_route(
    "/{campaign_id}/pause",
    _status_route("pause"),
    methods=["POST"],
    response_model=CampaignOut,
    summary="Pause calling (calls in flight finish): status paused",
    responses=_ERRORS,
)


@router.post(
    "/{campaign_id}/registry",
    response_model=ImportOut,
    summary="Upload a registry (CSV or XLSX): the import report",
    description=(
        "Multipart form: `file` (CSV in UTF-8, UTF-8 with BOM or Windows-1251 with any of "
        "`, ; tab |` as delimiter, or XLSX) and optionally `mapping`, a JSON object "
        'field -> header, e.g. `{"phones": ["Телефон", "Телефон 2"], "name": "ФИО"}` '
        "(fields: name, phones, case_number, service, office, ready_date, note; `ignore` "
        "for columns to leave out whatever their header says). Columns the mapping does not "
        "name are detected by their headers; `/registry/preview` shows what would be. "
        "Uploading the same file again returns the earlier report (`repeated`: true)."
    ),
    responses={**_ERRORS, 413: {"model": Problem}},
)
def registry_upload(
    request: Request,
    campaign_id: Id,
    db: Db,
    principal: Writer,
    file: Annotated[UploadFile, File(description="the registry, CSV or XLSX")],
    mapping: Annotated[
        str | None, Form(description='JSON: {"phones": "Телефон", "name": "ФИО", ...}')
    ] = None,
) -> ImportOut:
    settings = _settings(request)
    campaign = service.get_campaign(db, campaign_id=campaign_id)
    explicit: dict[str, Any] | None = None
    if mapping and mapping.strip():
        try:
            explicit = json.loads(mapping)
        except json.JSONDecodeError as exc:
            raise HTTPException(
                422, f"mapping is not JSON ({exc.msg}): send an object field -> header"
            ) from exc
        valid = isinstance(explicit, dict) and all(
            isinstance(v, str) or (isinstance(v, list) and all(isinstance(i, str) for i in v))
            for v in explicit.values()
        )
        if not valid:
            raise HTTPException(
                422, 'mapping must be an object field -> header, e.g. {"phones": "Телефон"}'
            )
    data, filename = _read_upload(file, settings)
    try:
        outcome = import_registry(
            db,
            campaign_id=campaign.id,
            data=data,
            filename=filename,
            mapping=explicit,
            actor=principal.actor,
            region=settings.phone_region,
            max_rows=settings.registry_max_rows,
        )
    except EncodingProblem as exc:  # in ru, uk or en as asked (?lang=, Accept-Language)
        raise HTTPException(422, f"{filename}: {exc.localised(message_language(request))}") from exc
    except RegistryFileError as exc:
        raise _file_refused(filename, exc) from exc
    return _import_out(
        db,
        outcome.record,
        principal,
        repeated=outcome.repeated,
        notes=outcome.notes,
        read=outcome.repeated,
    )


def _read_upload(file: UploadFile, settings: Settings) -> tuple[bytes, str]:
    """The uploaded file's bytes (413 past CALLAGENT_REGISTRY_MAX_BYTES) and its name."""
    data = file.file.read(settings.registry_max_bytes + 1)
    if len(data) > settings.registry_max_bytes:
        raise HTTPException(
            413,
            f"the file is larger than {settings.registry_max_bytes} bytes "
            "(CALLAGENT_REGISTRY_MAX_BYTES): split it into several files",
        )
    return data, (file.filename or "registry").replace("\x00", "")


@router.post(
    "/{campaign_id}/registry/preview",
    response_model=RegistryPreviewOut,
    summary="Preview a registry (CSV or XLSX) without importing it: header, columns, rows",
    description=(
        "Multipart form: `file`, as for the upload. The answer names the header row, each "
        "column's meaning (name, phones, case_number, service, office, ready_date, note or "
        "ignore) and the first rows below the header. When an earlier import had the same "
        "header row (this campaign's newest, else any campaign's), its mapping is shown "
        "(`remembered`). Send `mapping` back with the upload to import with it. Nothing is "
        "stored; cells are masked without `calls:read_pii`."
    ),
    responses={**_ERRORS, 413: {"model": Problem}},
)
def registry_preview(
    request: Request,
    campaign_id: Id,
    db: Db,
    principal: Writer,
    file: Annotated[UploadFile, File(description="the registry, CSV or XLSX")],
) -> RegistryPreviewOut:
    settings = _settings(request)
    campaign = service.get_campaign(db, campaign_id=campaign_id)
    data, filename = _read_upload(file, settings)
    try:
        table = read_table(data, filename, max_rows=settings.registry_max_rows)
    except EncodingProblem as exc:
        raise HTTPException(422, f"{filename}: {exc.localised(message_language(request))}") from exc
    except RegistryFileError as exc:
        raise _file_refused(filename, exc) from exc
    out = RegistryPreviewOut.model_validate(
        as_json(preview_file(db, campaign_id=campaign.id, table=table))
    )
    if not _pii(principal):
        names = frozenset(c.key for c in out.columns if c.field == "name")
        for row in out.rows:
            values = service.mask_values(
                {c.key: cell for c, cell in zip(out.columns, row.cells, strict=True)}, names
            )
            row.cells = [str(values[c.key]) for c in out.columns]
    return out


@router.get(
    "/{campaign_id}/registry/imports",
    response_model=list[ImportSummary],
    summary="The campaign's registry imports, newest first",
    responses=_ERRORS,
)
def registry_imports(campaign_id: Id, db: Db, _: Reader) -> list[ImportSummary]:
    service.get_campaign(db, campaign_id=campaign_id)
    return [
        ImportSummary.model_validate(r) for r in service.list_imports(db, campaign_id=campaign_id)
    ]


@router.get(
    "/{campaign_id}/registry/imports/{import_id}",
    response_model=ImportOut,
    summary="One import's report: rows not called, with row numbers and reasons",
    responses=_ERRORS,
)
def registry_import_report(campaign_id: Id, import_id: Id, db: Db, principal: Reader) -> ImportOut:
    record = service.get_import(db, campaign_id=campaign_id, import_id=import_id)
    return _import_out(db, record, principal)


@router.get(
    "/{campaign_id}/registry/export",
    summary="The registry with results (CSV or XLSX): each upload row for row",
    description=(
        "Row n of an upload is row n of the export: title rows, the header, blank rows, "
        "duplicates and invalid rows in their places, cells as uploaded, the result columns "
        "to the right (rows not dialled say why). XLSX: one sheet per upload; CSV: the "
        "uploads one after another. `import_id` gives one upload alone."
    ),
    response_class=Response,
    responses={
        200: {
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                MEDIA_TYPES["xlsx"]: {"schema": {"type": "string", "format": "binary"}},
            },
            "description": "the file",
        },
        **_ERRORS,
    },
)
def registry_export(
    campaign_id: Id,
    db: Db,
    principal: Exporter,
    fmt: Annotated[Literal["csv", "xlsx"], Query(alias="format")] = "xlsx",
    lang: Annotated[
        Literal["ru", "en"], Query(description="language of the result headers and statuses")
    ] = "ru",
    import_id: Annotated[
        int | None,
        Query(ge=1, le=2_147_483_647, description="one upload alone (default: every upload)"),
    ] = None,
) -> Response:
    campaign = service.get_campaign(db, campaign_id=campaign_id)
    if import_id is not None:
        service.get_import(db, campaign_id=campaign.id, import_id=import_id)  # 404 if none
    data, rows = export_file(db, campaign=campaign, fmt=fmt, lang=lang, import_id=import_id)
    detail: dict[str, Any] = {"campaign_id": campaign.id, "format": fmt}
    if import_id is not None:
        detail["import_id"] = import_id
    audit(
        db,
        principal=principal,
        action="campaigns.registry_export",
        detail=detail,
        rows=rows,
    )
    db.commit()
    name = export_filename(campaign, fmt)
    return Response(
        data,
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get(
    "/{campaign_id}/entries",
    response_model=EntryPage,
    summary="The campaign's registry entries and their results (masked without PII scope)",
    description="Searching by `phone` needs `calls:read_pii`, is limited per user or token "
    "(CALLAGENT_PHONE_SEARCH_PER_MINUTE) and is audited, whether it matched or not.",
    responses={**_ERRORS, 403: {"model": Problem}, 429: {"model": Problem}},
)
def entries_list(
    campaign_id: Id,
    request: Request,
    db: Db,
    principal: Reader,
    status: EntryStatus | None = None,
    import_id: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
    phone: Annotated[str | None, Query(max_length=64, description="a number, any format")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> EntryPage:
    service.get_campaign(db, campaign_id=campaign_id)
    number = (phone or "").replace("\x00", "") or None
    if number:  # a match or not would tell a masked number: PII scope, limited, audited
        allow_phone_search(request, principal)
    total, rows = service.list_entries(
        db,
        campaign_id=campaign_id,
        status=status,
        import_id=import_id,
        phone=number,
        limit=limit,
        offset=offset,
    )
    items = [EntryOut.model_validate(row) for row in rows]
    if number:
        audit_phone_search(
            db,
            principal,
            action="campaigns.entries",
            number=number,
            rows=len(items),
            total=total,
            campaign_id=campaign_id,
            status=status,
        )
    if _pii(principal):
        if items and not number:
            audit(
                db,
                principal=principal,
                action="campaigns.entries",
                detail={"campaign_id": campaign_id, "status": status or ""},
                rows=len(items),
            )
            db.commit()
    else:
        names: dict[int, frozenset[str]] = {}
        for import_id_ in {item.import_id for item in items}:
            record = db.get(RegistryImport, import_id_)
            names[import_id_] = service.name_keys(record.mapping if record else {})
        items = [service.masked_entry(item, names[item.import_id]) for item in items]
    return EntryPage(total=total, limit=limit, offset=offset, items=items)


@router.get(
    "/{campaign_id}/progress",
    response_model=Progress,
    summary="Entries by status, attempts by result, calls in flight",
    responses=_ERRORS,
)
def campaign_progress(campaign_id: Id, db: Db, _: Reader) -> Progress:
    return service.progress(db, campaign=service.get_campaign(db, campaign_id=campaign_id))


@dnc_router.get(
    "",
    response_model=list[DoNotCallOut],
    summary="The do-not-call list, newest first (masked without PII scope)",
)
def dnc_list(
    db: Db,
    principal: Reader,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> list[DoNotCallOut]:
    _, rows = service.list_do_not_call(db, limit=limit, offset=offset)
    items = [DoNotCallOut.model_validate(r) for r in rows]
    if not _pii(principal):
        items = [i.model_copy(update={"phone": mask_phone(i.phone)}) for i in items]
    return items


@dnc_router.post(
    "",
    response_model=DoNotCallOut,
    status_code=201,
    summary="Never call a number again (pending entries with it stop)",
    responses={422: {"model": Problem}},
)
def dnc_add(request: Request, body: DoNotCallIn, db: Db, principal: Writer) -> DoNotCallOut:
    try:
        row, _ = service.add_do_not_call(
            db,
            phone=body.phone,
            reason=body.reason,
            actor=principal.actor,
            region=_settings(request).phone_region,
        )
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    return DoNotCallOut.model_validate(row)


@dnc_router.delete(
    "",
    status_code=204,
    summary="Take a number off the do-not-call list",
    description="The number is a query parameter, not a path segment: access logs drop "
    "query strings, so the applicant's number stays out of them.",
    responses={404: {"model": Problem}},
)
def dnc_remove(
    request: Request,
    phone: Annotated[str, Query(min_length=3, max_length=64, description="the number")],
    db: Db,
    _: Writer,
) -> Response:
    service.remove_do_not_call(db, phone=phone, region=_settings(request).phone_region)
    return Response(status_code=204)
