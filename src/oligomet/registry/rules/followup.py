"""Plausible but suspicious follow-up: warnings, not errors."""
from __future__ import annotations

from .context import Context

MAX_FOLLOWUP_YEARS = 30


def check_followup(ctx: Context) -> None:
    p = ctx.tables["patients"]
    end = p[["death_date", "last_contact_date"]].max(axis=1)
    years = (end - p["primary_diagnosis_date"]).dt.days / 365.25
    ctx.warning("patients", "followup_over_30_years", (years > MAX_FOLLOWUP_YEARS).to_numpy(), "last_contact_date",
                lambda m: "follow-up of " + years[m].round(1).astype(str) + " years after the primary diagnosis "
                f"(over {MAX_FOLLOWUP_YEARS}); check the dates", value=end)
    ctx.warning("patients", "no_followup_date", end.isna().to_numpy(), "last_contact_date",
                "no death date and no last contact date: the patient adds no follow-up time")
