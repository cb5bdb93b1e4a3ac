"""Where every blueprint is registered: adding an API area is one line here."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api


def register(app: Flask, api: Api) -> None:
    """Register the blueprints of every API area and the operational endpoints."""
    from permit_service import docs, observability
    from permit_service.auth.views import blp as auth_blp
    from permit_service.checklists.views import blp as checklists_blp
    from permit_service.countersigning.views import blp as countersigning_blp
    from permit_service.directory.views import blp as directory_blp
    from permit_service.feed.views import blp as feed_blp
    from permit_service.freezes.views import blp as freezes_blp
    from permit_service.freezes.views import calendar_blp
    from permit_service.integrations.views import blp as integrations_blp
    from permit_service.integrations.views import webhooks_blp
    from permit_service.jobs.views import blp as jobs_blp
    from permit_service.measures.views import blp as measures_blp
    from permit_service.onsite.views import blp as onsite_blp
    from permit_service.permits import verify
    from permit_service.permits.catalogue import blp as catalogue_blp
    from permit_service.permits.catalogue import gases_blp
    from permit_service.permits.views import blp as permits_blp
    from permit_service.presence.views import blp as presence_blp
    from permit_service.regulators.views import blp as regulators_blp

    observability.register(app)
    docs.register(app)
    verify.register(app)
    for blp in (
        auth_blp,
        directory_blp,
        onsite_blp,
        checklists_blp,
        countersigning_blp,
        permits_blp,
        measures_blp,
        catalogue_blp,
        gases_blp,
        jobs_blp,
        regulators_blp,
        feed_blp,
        freezes_blp,
        calendar_blp,
        presence_blp,
        integrations_blp,
        webhooks_blp,
    ):
        api.register_blueprint(blp, url_prefix=f"/api/v1{blp.url_prefix or ''}")
